// Shift handover: the outgoing shift hands over with a note and sees what was recorded; the
// incoming shift accepts another's handover, never its own; a viewer only reads.
import { afterEach, describe, expect, it, vi } from 'vitest'

import HandoversPage from '@/app/pages/HandoversPage.vue'
import type { Handover } from '@/app/queries/handovers'

import { graphqlFetch } from './graphql-mock'
import { buttons, click, fill, gqlError, ME, mountPage, submit } from './page-harness'

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

function handover(id: string, overrides: Partial<Handover> = {}): Handover {
  return {
    id,
    siteId: 'site-1',
    note: `交班说明 ${id}`,
    handedOverBy: 'other-user-0000',
    handedOverAt: '2026-12-02T08:00:00.000Z',
    acceptedBy: null,
    acceptedAt: null,
    acceptNote: null,
    accepted: false,
    openAlarmCount: 3,
    openPermitCount: 1,
    openWorkOrderCount: 2,
    openAlarms: [],
    openPermits: [],
    openWorkOrders: [],
    ...overrides,
  }
}

const answer = (handovers: Handover[]) => ({ data: { me: { id: ME }, handovers } })

describe('HandoversPage', () => {
  it('shows a viewer the handovers with both signatures and no hand-over or accept control', async () => {
    graphqlFetch({
      ConsoleHandovers: answer([
        handover('h1', { accepted: true, acceptedBy: 'third-user-000', acceptedAt: '2026-12-02T08:05:00.000Z', acceptNote: '已清点' }),
        handover('h2'),
      ]),
    })
    const { wrapper } = await mountPage(HandoversPage, 'viewer', '/handovers')
    expect(wrapper.findAll('li.handover')).toHaveLength(2)
    expect(wrapper.text()).toContain('#other-us')
    expect(wrapper.text()).toContain('#third-us')
    expect(wrapper.text()).toContain('已清点')
    expect(buttons('交班')).toHaveLength(0)
    expect(buttons('接班')).toHaveLength(0)
  })

  it('hands over with a note and shows what the server recorded', async () => {
    const { asked } = graphqlFetch({
      ConsoleHandovers: answer([]),
      CreateHandover: (v) => ({ data: { createHandover: handover('new', { note: String(v.note), handedOverBy: ME }) } }),
    })
    const { wrapper } = await mountPage(HandoversPage, 'operator', '/handovers')
    await submit('.handovers__new')
    expect(wrapper.text()).toContain('请填写交班说明。')
    expect(asked.some((a) => a.operation === 'CreateHandover')).toBe(false)
    fill('textarea[name="handover-note"]', ' 2 号罐区报警未关闭 ')
    await submit('.handovers__new')
    expect(asked.find((a) => a.operation === 'CreateHandover')!.variables).toEqual({ siteId: 'site-1', note: '2 号罐区报警未关闭' })
    expect(wrapper.text()).toContain('已交班：未关闭报警 3 条，作业票 1 张，未完成工单 2 个。')
  })

  it("offers accepting another's handover, not one's own, and sends the note", async () => {
    const { asked } = graphqlFetch({
      ConsoleHandovers: answer([handover('mine', { handedOverBy: ME }), handover('theirs')]),
      AcceptHandover: (v) => ({
        data: { acceptHandover: handover('theirs', { accepted: true, acceptedBy: ME, acceptedAt: '2026-12-02T09:00:00.000Z', acceptNote: String(v.note) }) },
      }),
    })
    const { wrapper } = await mountPage(HandoversPage, 'operator', '/handovers')
    expect(buttons('接班')).toHaveLength(1)
    fill('#accept-note-theirs', '收到')
    await click('接班')
    expect(asked.find((a) => a.operation === 'AcceptHandover')!.variables).toEqual({ id: 'theirs', note: '收到' })
    expect(buttons('接班')).toHaveLength(0)
    expect(wrapper.text()).toContain('已接班')
  })

  it("shows the server's refusal", async () => {
    graphqlFetch({
      ConsoleHandovers: answer([handover('theirs')]),
      AcceptHandover: gqlError('the handover was already accepted', 'BAD_USER_INPUT'),
    })
    await mountPage(HandoversPage, 'safety_manager', '/handovers')
    await click('接班')
    expect(document.body.textContent).toContain('未完成：the handover was already accepted')
  })

  it('pages by the last id', async () => {
    const page = Array.from({ length: 11 }, (_, i) => handover(`h${i}`))
    const { asked } = graphqlFetch({ ConsoleHandovers: (v) => answer(v.after ? [handover('old')] : page) })
    const { wrapper } = await mountPage(HandoversPage, 'viewer', '/handovers')
    expect(asked[0]!.variables).toEqual({ siteId: 'site-1', first: 11, after: null })
    expect(wrapper.findAll('li.handover')).toHaveLength(10)
    await click('下一页')
    expect(asked.at(-1)!.variables).toEqual({ siteId: 'site-1', first: 11, after: 'h9' })
  })
})
