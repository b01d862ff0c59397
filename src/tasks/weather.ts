/**
 * The paper's weather task on WTH.csv (hourly NOAA local climatological data,
 * 2010-2013, as in the Informer benchmarks): from the nine non-Celsius columns at hour
 * t, predict the dry-bulb temperature in Fahrenheit at hour t + 1.
 */
import { packagePath } from '../package-root.js';
import { TaskError, checkInteger } from './errors.js';
import { numericColumns, readCsvFile } from './csv-parse.js';
import { seriesTask } from './series.js';
import type { Task } from './types.js';

/** The nine columns kept: the file's columns minus the date and the three Celsius duplicates. */
export const WEATHER_COLUMNS = [
  'Visibility',
  'DryBulbFarenheit',
  'WetBulbFarenheit',
  'DewPointFarenheit',
  'RelativeHumidity',
  'WindSpeed',
  'WindDirection',
  'StationPressure',
  'Altimeter',
];
/** The target, the 2nd kept column (the file spells it "Farenheit"). */
export const WEATHER_TARGET = 'DryBulbFarenheit';
/** Rows in the train split, as in the paper; the remaining rows are the test split. */
export const WEATHER_TRAIN_ROWS = 33_600;

export interface WeatherOptions {
  /** Sequences per split B, default 10. */
  batch?: number;
  /** Path of WTH.csv; default data/WTH.csv of the anpt package. */
  file?: string;
  /** Use this saved normalisation (weights.json) instead of the file's train min/max. */
  normalisation?: Task['normalisation'];
}

/** data/WTH.csv of the anpt package. */
export function defaultWeatherFile(): string {
  return packagePath('data', 'WTH.csv');
}

/**
 * The weather task, named "weather": 9 inputs, 1 output. Each of the nine columns is
 * min-max normalised to [0, 1] with the min and max of the TRAIN rows (the first
 * 33,600) only, returned in `normalisation`. Input row t pairs with the target at row
 * t + 1 within each split; each split's pairs are cut into B contiguous segments and
 * the remainder (pairs % B) dropped. With the shipped file and B = 10: train
 * 3359 steps (9 pairs dropped), test 146 steps (3 dropped).
 */
export function weatherTask(opts: WeatherOptions = {}): Task {
  const batch = checkInteger('weather batch', opts.batch ?? 10, 1);
  const file = opts.file ?? defaultWeatherFile();
  const table = readCsvFile(file);
  const data = numericColumns(table, WEATHER_COLUMNS);
  if (table.rows.length <= WEATHER_TRAIN_ROWS) {
    throw new TaskError(
      'TOO_FEW_ROWS',
      `weather file '${file}' has ${table.rows.length} data rows but needs more than ${WEATHER_TRAIN_ROWS} (the train split); use the full WTH.csv`,
    );
  }
  return seriesTask({
    name: 'weather',
    columns: WEATHER_COLUMNS,
    data,
    inputs: WEATHER_COLUMNS.map((_, i) => i),
    targets: [WEATHER_COLUMNS.indexOf(WEATHER_TARGET)],
    trainRows: WEATHER_TRAIN_ROWS,
    batch,
    horizon: 1,
    source: `weather file '${file}'`,
    normalisation: opts.normalisation,
  });
}
