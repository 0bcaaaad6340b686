// Devices: the list with online state and last seen; a safety manager creates a device from a
// table of sensors and sees its token once, revokes after confirming, and changes a sensor's
// rules with a reason; a viewer only reads.
import { afterEach, describe, expect, it, vi } from 'vitest'

import DevicesPage from '@/app/pages/DevicesPage.vue'
import type { AlarmRule, DevicesData } from '@/app/queries/devices'

import { graphqlFetch } from './graphql-mock'
import { buttons, click, fill, gqlError, mountPage, shown, submit, TENANT } from './page-harness'

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

const DEVICES: { data: DevicesData } = {
  data: {
    site: {
      id: 'site-1',
      name: '一号厂区',
      tenantId: TENANT,
      zones: [{ id: 'z1', name: '罐区' }],
      sensors: [{ id: 's1', code: 'GT-101', kind: 'combustible_gas', unit: '%LEL', zone: '罐区', deviceId: 'd1', latest: { ts: '2026-12-02T11:58:00.000Z' } }],
    },
    siteStatus: {
      asOf: '2026-12-02T12:00:00.000Z',
      devicesTotal: 2,
      devicesOnline: 1,
      devices: [
        { id: 'd1', name: '罐区网关', online: true, lastSeen: '2026-12-02T11:59:00.000Z' },
        { id: 'd2', name: '备用网关', online: false, lastSeen: null },
      ],
    },
  },
}

const RULE: AlarmRule = {
  id: 'r1',
  kind: 'threshold',
  source: 'library:chemical@1',
  version: 1,
  enabled: true,
  standard: 'GB/T 50493',
  onDelaySeconds: 0,
  levels: [{ name: 'H', severity: 'ORANGE', direction: 'high', setpoint: 25, clearAt: 20 }],
}

describe('DevicesPage', () => {
  it('shows a viewer devices, online state and sensors, and no create, revoke or rule change', async () => {
    graphqlFetch({ ConsoleDevices: DEVICES, ConsoleSensorRules: { data: { alarmRules: [RULE] } } })
    const { wrapper } = await mountPage(DevicesPage, 'viewer', '/devices')
    expect(wrapper.findAll('li.card')).toHaveLength(2)
    expect(wrapper.text()).toContain('在线设备 1/2')
    expect(wrapper.text()).toContain('从未上报')
    expect(wrapper.text()).toContain('GT-101')
    expect(wrapper.find('time[datetime="2026-12-02T11:58:00.000Z"]').exists()).toBe(true)
    expect(buttons('新建设备')).toHaveLength(0)
    expect(buttons('吊销')).toHaveLength(0)
    document.querySelector<HTMLButtonElement>('button[aria-label="GT-101 的报警规则"]')!.click()
    await shown('.rule')
    expect(document.body.textContent).toContain('默认规则')
    expect(buttons('保存设定值')).toHaveLength(0)
    expect(buttons('停用规则')).toHaveLength(0)
  })

  it('creates a device from a table of sensors and shows the token once with a warning', async () => {
    const { asked } = graphqlFetch({
      ConsoleDevices: DEVICES,
      CreateDevice: { data: { createDevice: { device: { id: 'd3', name: '新网关' }, token: 'tok-secret-1', sensors: [{ id: 's9', code: 'TX-1' }] } } },
    })
    const writeText = vi.fn(async () => {})
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
    const { wrapper } = await mountPage(DevicesPage, 'safety_manager', '/devices')
    await click('新建设备')
    await shown('input[name="device-name"]')
    await submit('.el-dialog form')
    expect(document.body.textContent).toContain('请填写设备名称。')
    fill('input[name="device-name"]', '新网关')
    fill('input[name="code-0"]', 'TX-1')
    fill('select[name="kind-0"]', 'toxic_gas')
    await submit('.el-dialog form')
    expect(document.body.textContent).toContain('有毒气体传感器需要选择气体。')
    expect(document.body.textContent).toContain('ppm')
    fill('select[name="gas-0"]', 'H2S')
    fill('select[name="zone-0"]', '罐区')
    await submit('.el-dialog form')
    expect(asked.find((a) => a.operation === 'CreateDevice')!.variables).toEqual({
      siteId: 'site-1',
      name: '新网关',
      sensors: [{ code: 'TX-1', kind: 'toxic_gas', unit: 'ppm', zone: '罐区', gas: 'H2S' }],
    })
    expect(wrapper.text()).toContain('令牌只显示这一次')
    expect(wrapper.find<HTMLInputElement>('input.token__value').element.value).toBe('tok-secret-1')
    await click('复制令牌')
    expect(writeText).toHaveBeenCalledWith('tok-secret-1')
    await click('我已保存')
    expect(wrapper.text()).not.toContain('tok-secret-1')
    expect(wrapper.find('input.token__value').exists()).toBe(false)
  })

  it('revokes a device only after confirming', async () => {
    const { asked } = graphqlFetch({ ConsoleDevices: DEVICES, RevokeDevice: { data: { revokeDevice: { id: 'd2', revoked: true } } } })
    await mountPage(DevicesPage, 'owner', '/devices')
    document.querySelector<HTMLButtonElement>('button[aria-label="吊销设备 备用网关"]')!.click()
    await shown('.confirm-form')
    expect(asked.some((a) => a.operation === 'RevokeDevice')).toBe(false)
    await submit('.confirm-form')
    expect(asked.find((a) => a.operation === 'RevokeDevice')!.variables).toEqual({ deviceId: 'd2' })
  })

  it("switches a rule off with a reason, overrides setpoints, and shows the server's refusal", async () => {
    const { asked } = graphqlFetch({
      ConsoleDevices: DEVICES,
      ConsoleSensorRules: { data: { alarmRules: [RULE] } },
      SetAlarmRuleEnabled: (v) => ({ data: { setAlarmRuleEnabled: { ...RULE, enabled: v.enabled, version: 2 } } }),
      OverrideAlarmLevels: gqlError('the clearing value of a high level must be below its setpoint', 'BAD_USER_INPUT'),
    })
    await mountPage(DevicesPage, 'safety_manager', '/devices')
    document.querySelector<HTMLButtonElement>('button[aria-label="GT-101 的报警规则"]')!.click()
    await shown('.rule')
    await click('停用规则')
    expect(document.body.textContent).toContain('请填写变更原因。')
    expect(asked.some((a) => a.operation === 'SetAlarmRuleEnabled')).toBe(false)
    fill('#rule-reason-r1', '探头检修')
    await click('停用规则')
    expect(asked.find((a) => a.operation === 'SetAlarmRuleEnabled')!.variables).toEqual({ ruleId: 'r1', enabled: false, reason: '探头检修' })
    expect(document.body.textContent).toContain('规则已停用。')
    expect(buttons('启用规则')).toHaveLength(1)

    fill('input[aria-label="H 的报警值"]', '30')
    fill('input[aria-label="H 的恢复值"]', '35')
    await submit('.rule__form')
    expect(asked.find((a) => a.operation === 'OverrideAlarmLevels')!.variables).toEqual({
      ruleId: 'r1',
      reason: '探头检修',
      levels: [{ name: 'H', severity: 'ORANGE', direction: 'high', setpoint: 30, clearAt: 35 }],
    })
    expect(document.body.textContent).toContain('未完成：the clearing value of a high level must be below its setpoint')
  })

  it('says so when the server refuses a revocation as FORBIDDEN', async () => {
    graphqlFetch({ ConsoleDevices: DEVICES, RevokeDevice: gqlError('may not update devices', 'FORBIDDEN') })
    await mountPage(DevicesPage, 'owner', '/devices')
    document.querySelector<HTMLButtonElement>('button[aria-label="吊销设备 罐区网关"]')!.click()
    await shown('.confirm-form')
    await submit('.confirm-form')
    expect(document.body.textContent).toContain('无权执行此操作：may not update devices')
  })
})
