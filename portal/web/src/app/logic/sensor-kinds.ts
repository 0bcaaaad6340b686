// The sensor kinds a device may be created with, their unit and (for toxic gas) the gases, as
// the server's catalogue (backend/telemetry/kinds.json) has them: the schema offers no query
// of the catalogue, and the server refuses any other unit for a kind.
export interface KindSpec {
  unit: string
  gases?: readonly string[]
}

export const SENSOR_KINDS: Readonly<Record<string, KindSpec>> = {
  combustible_gas: { unit: '%LEL' },
  toxic_gas: { unit: 'ppm', gases: ['H2S', 'CO', 'NH3', 'Cl2', 'SO2', 'NO2', 'HCN', 'PH3', 'C6H6'] },
  oxygen: { unit: '%VOL' },
  methane: { unit: '%VOL' },
  carbon_monoxide: { unit: 'ppm' },
  temperature: { unit: '°C' },
  pressure: { unit: 'kPa' },
  level: { unit: '%' },
  flow: { unit: 'm3/h' },
  vibration: { unit: 'mm/s' },
  wind_speed: { unit: 'm/s' },
  load_ratio: { unit: '%' },
  moment_ratio: { unit: '%' },
  displacement: { unit: 'mm' },
  tilt: { unit: '°' },
  heart_rate: { unit: 'bpm' },
}

export const KIND_NAMES: readonly string[] = Object.keys(SENSOR_KINDS)

export function unitOf(kind: string): string {
  return SENSOR_KINDS[kind]?.unit ?? ''
}

export function gasesOf(kind: string): readonly string[] {
  return SENSOR_KINDS[kind]?.gases ?? []
}
