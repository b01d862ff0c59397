/**
 * Reading CSV time series with csv-parse (RFC 4180: quoted fields with commas, quotes
 * and line breaks, CRLF, a byte-order mark), plus what a time series needs on top: the
 * delimiter found from the header (comma, semicolon or tab, as spreadsheets in other
 * locales write), blank lines skipped, and errors that name the file and line.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { CsvError, parse } from 'csv-parse/sync';
import { TaskError } from './errors.js';

export interface CsvTable {
  /** The file's name as given, used in error messages. */
  file: string;
  /** Header names, trimmed and unquoted. */
  columns: string[];
  /** Data records as raw cell text, one array per row (header excluded). */
  rows: string[][];
  /** 1-based line number in the file of each data row, for error messages. */
  lines: number[];
}

/** The delimiter of a file: the one of , ; and tab that occurs most in its first line, outside quotes (comma on a tie). */
export function sniffDelimiter(text: string): string {
  const first = text.replace(/^\uFEFF/, '').split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const outside = first.replace(/"(?:[^"]|"")*"/g, '');
  const count = (d: string) => outside.split(d).length - 1;
  return [',', ';', '\t'].reduce((best, d) => (count(d) > count(best) ? d : best), ',');
}

/** Splits one CSV line into fields, honouring double quotes. */
export function splitCsvLine(line: string, delimiter = ','): string[] {
  return parseRecords(line, 'line', delimiter)[0]?.record ?? [''];
}

function parseRecords(text: string, name: string, delimiter: string): { record: string[]; line: number }[] {
  try {
    // any line end, even mixed in one file (an edited CRLF file gains LF lines)
    const out = parse(text, { bom: true, delimiter, record_delimiter: ['\r\n', '\n', '\r'], skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as { record: string[]; info: { lines: number } }[];
    return out.map((r) => ({ record: r.record, line: r.info.lines }));
  } catch (err) {
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw new TaskError('BAD_ROW', `data file '${name}'${line ? ` line ${line}` : ''}: ${err.message.replace(/^Invalid [^:]*: /, '')}; fix that line`);
    }
    throw err;
  }
}

/** Parses CSV text with a header row. `file` only names the source in errors. */
export function parseCsv(text: string, file: string): CsvTable {
  const name = basename(file);
  const records = parseRecords(text, name, sniffDelimiter(text)).filter((r) => !(r.record.length === 1 && r.record[0].trim() === ''));
  if (records.length === 0) {
    throw new TaskError('EMPTY_FILE', `data file '${name}' is empty; it needs a header row and data rows`);
  }
  const columns = records[0].record.map((c) => c.trim());
  const rows: string[][] = [];
  const lines: number[] = [];
  for (const { record, line } of records.slice(1)) {
    if (record.length !== columns.length) {
      throw new TaskError(
        'BAD_ROW',
        `data file '${name}' line ${line} has ${record.length} cells but the header has ${columns.length} columns; fix that line`,
      );
    }
    rows.push(record);
    lines.push(line);
  }
  return { file, columns, rows, lines };
}

/** Reads and parses a CSV file; throws TaskError 'FILE_NOT_FOUND' if it does not exist. */
export function readCsvFile(file: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TaskError('FILE_NOT_FOUND', `data file '${file}' not found; check the path`);
    throw new TaskError('FILE_UNREADABLE', `data file '${file}' cannot be read (${code ?? String(err)}); check the path and permissions`);
  }
  return parseCsv(text, file);
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The named columns as numbers, one Float64Array per name in the given order. Throws
 * TaskError for a missing or duplicated column, an empty or NaN cell ('MISSING_VALUE'),
 * or a cell that is not a plain decimal number ('NON_NUMERIC').
 */
export function numericColumns(table: CsvTable, names: string[]): Float64Array[] {
  const name = basename(table.file);
  const indices = names.map((column) => {
    const at = table.columns.indexOf(column);
    if (at < 0) {
      const available = table.columns.map((c) => `'${c}'`).join(', ');
      throw new TaskError('MISSING_COLUMN', `data file '${name}' has no column '${column}'; available columns: ${available}`);
    }
    if (table.columns.indexOf(column, at + 1) >= 0) {
      throw new TaskError('DUPLICATE_COLUMN', `data file '${name}' has more than one column named '${column}'; rename one in the header`);
    }
    return at;
  });
  return indices.map((at, j) => {
    const values = new Float64Array(table.rows.length);
    for (let r = 0; r < table.rows.length; r++) {
      const cell = table.rows[r][at].trim();
      const where = `data file '${name}' row ${r + 1} (line ${table.lines[r]}), column '${names[j]}'`;
      if (cell === '' || /^nan$/i.test(cell)) {
        throw new TaskError('MISSING_VALUE', `${where} is ${cell === '' ? 'empty' : `'${cell}'`}; fill or remove that row`);
      }
      if (!NUMBER.test(cell)) {
        throw new TaskError('NON_NUMERIC', `${where} is '${cell}', not a number; use plain decimal numbers`);
      }
      values[r] = Number(cell);
    }
    return values;
  });
}
