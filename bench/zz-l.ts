import { benchLinkOnce, formatLinkRows } from './link.js';
const rows = [];
for (const m of ['one in flight', 'pipelined', 'one in flight', 'pipelined'] as const) rows.push(await benchLinkOnce(process.argv[2] as 'pty', 1000000, 200, m));
for (const l of formatLinkRows(rows)) console.log(l);
