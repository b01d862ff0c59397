/**
 * Field names: host (DeviceConfig, Device requests: camelCase, as protobufjs names
 * fields too) <-> wire (proto file: snake_case), the one converter both ends use.
 */

/** 'reward.deltaLoss' -> 'reward.delta_loss' (each dotted segment). */
export function toWireField(path: string): string {
  return path.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
}

/** 'configure.max_chunk_steps' -> 'configure.maxChunkSteps'. */
export function fromWireField(path: string): string {
  return path.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
}

/** A DeviceConfig path -> the Configure field's proto path: maxChunkSteps -> configure.max_chunk_steps. */
export function configFieldToWire(field: string): string {
  return `configure.${toWireField(field)}`;
}

/** A Configure field as the device names it (proto path) -> the DeviceConfig path: configure.max_chunk_steps -> maxChunkSteps. */
export function configFieldFromWire(field: string): string {
  return fromWireField(field.replace(/^configure\./, ''));
}
