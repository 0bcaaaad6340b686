// An alarm level's name in the reader's language. The indicator library names levels in
// English ("1st level", "high-high"); a site's override may name them anything, and such a
// name shows as typed. Gas levels follow GB/T 50493-2019 (一级/二级报警), the rest the
// wording of the standard each rule cites.
import { useI18n } from 'vue-i18n'

/** Library level name → message key under `levelName`. */
export const LEVEL_KEYS: Readonly<Record<string, string>> = {
  '1st level': 'first',
  '2nd level': 'second',
  high: 'high',
  'high-high': 'highHigh',
  low: 'low',
  'low-low': 'lowLow',
  stale: 'stale',
  'no data': 'noData',
  'above maximum': 'aboveMaximum',
  'below minimum': 'belowMinimum',
  limits: 'limits',
  band: 'band',
  enrichment: 'enrichment',
  deficiency: 'deficiency',
  offline: 'offline',
  sos: 'sos',
  fall: 'fall',
  'man down': 'manDown',
  smoke: 'smoke',
  flame: 'flame',
  'no helmet': 'noHelmet',
  'no vest': 'noVest',
  intrusion: 'intrusion',
  overstay: 'overstay',
  'power-off': 'powerOff',
  'alarm & power-off': 'alarmPowerOff',
  'cut-off': 'cutOff',
  warning: 'warning',
  alarm: 'alarm',
  rate: 'rate',
  'rate alarm': 'rateAlarm',
  red: 'red',
  orange: 'orange',
  yellow: 'yellow',
  'red (negative)': 'redNegative',
  'orange (negative)': 'orangeNegative',
  'yellow (negative)': 'yellowNegative',
  'gas during hot work': 'gasDuringHotWork',
  gas_during_hot_work: 'gasDuringHotWork',
  'out of service': 'outOfService',
  'stop lifting': 'stopLifting',
  'work at height': 'workAtHeight',
  'zone C': 'zoneC',
  'zone D': 'zoneD',
}

/** `t` translates a message key; a name the library does not know is returned unchanged. */
export function levelLabel(name: string, t: (key: string) => string): string {
  const key = LEVEL_KEYS[name]
  return key ? t(`levelName.${key}`) : name
}

export function useLevelLabel(): (name: string) => string {
  const { t } = useI18n()
  return (name: string) => levelLabel(name, (key) => t(key))
}
