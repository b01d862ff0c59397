/**
 * A tiny CSV reader for numeric time series (no CSV library is a dependency).
 *
 * Supported: a header row, one record per line, comma separators, LF or CRLF line
 * ends, a UTF-8 byte-order mark, blank lines (skipped), and double-quoted fields
 * ("a,b" and "" for a quote) in the header or data. Not supported: line breaks inside
 * quoted fields.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
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

/** Splits one CSV line into fields, honouring double quotes. */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let k = 0; k < line.length; k++) {
    const ch = line[k];
    if (quoted) {
      if (ch === '"' && line[k + 1] === '"') {
        field += '"';
        k++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else {
      field += ch;
    }
  }
  fields.push(field);
  return fields;
}

/** Parses CSV text with a header row. `file` only names the source in errors. */
export function parseCsv(text: string, file: string): CsvTable {
  const name = basename(file);
  const allLines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let k = 0;
  while (k < allLines.length && allLines[k].trim() === '') k++;
  if (k === allLines.length) {
    throw new TaskError('EMPTY_FILE', `data file '${name}' is empty; it needs a header row and data rows`);
  }
  const columns = splitCsvLine(allLines[k]).map((c) => c.trim());
  const rows: string[][] = [];
  const lines: number[] = [];
  for (k++; k < allLines.length; k++) {
    const line = allLines[k];
    if (line.trim() === '') continue;
    const cells = splitCsvLine(line);
    if (cells.length !== columns.length) {
      throw new TaskError(
        'BAD_ROW',
        `data file '${name}' line ${k + 1} has ${cells.length} cells but the header has ${columns.length} columns; fix that line`,
      );
    }
    rows.push(cells);
    lines.push(k + 1);
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
