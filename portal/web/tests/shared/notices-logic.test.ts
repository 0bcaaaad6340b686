// What the notice pages check before sending: the deadline as the end of a Beijing day, the
// items to send, the problems of a draft and of an answer, and the list as CSV.
import { describe, expect, it } from 'vitest'

import type { NoticeRow } from '@/shared/notices/api'
import {
  answerProblems,
  dayInChina,
  deadlineOfDay,
  draftProblems,
  itemInputs,
  noticeHeader,
  noticeRows,
  waitsForEnterprise,
} from '@/shared/notices/logic'

const keys = (problems: { key: string }[]) => problems.map((p) => p.key)

describe('the deadline', () => {
  it('is the last second of the chosen day in Beijing', () => {
    expect(deadlineOfDay('2026-12-20')).toBe('2026-12-20T15:59:59.000Z')
  })

  it('is nothing for a value that is not a day', () => {
    expect(deadlineOfDay('')).toBeNull()
    expect(deadlineOfDay('20/12/2026')).toBeNull()
    expect(deadlineOfDay('2026-13-40')).toBeNull()
  })

  it('starts from the Beijing day, which begins eight hours before UTC midnight', () => {
    expect(dayInChina(new Date('2026-12-02T17:00:00Z'))).toBe('2026-12-03')
    expect(dayInChina(new Date('2026-12-02T15:00:00Z'), 15)).toBe('2026-12-17')
  })
})

describe('a draft notice', () => {
  const now = new Date('2026-12-02T04:00:00Z')

  it('sends the filled items trimmed, a missing basis as null, and drops empty rows', () => {
    const drafts = [
      { finding: ' 储罐区可燃气体探测器未定期标定 ', basis: ' GB/T 50493-2019 ' },
      { finding: '', basis: '' },
      { finding: '应急预案未演练', basis: '  ' },
    ]
    expect(itemInputs(drafts)).toEqual([
      { finding: '储罐区可燃气体探测器未定期标定', basis: 'GB/T 50493-2019' },
      { finding: '应急预案未演练', basis: null },
    ])
    expect(draftProblems('2026-12-20', drafts, now)).toEqual([])
  })

  it('is refused without a deadline, with a past one, without items, or with a basis and no finding', () => {
    expect(keys(draftProblems('', [{ finding: 'x', basis: '' }], now))).toEqual(['notices.problem.noDeadline'])
    expect(keys(draftProblems('2026-12-01', [{ finding: 'x', basis: '' }], now))).toEqual(['notices.problem.pastDeadline'])
    expect(keys(draftProblems('2026-12-20', [{ finding: ' ', basis: '' }], now))).toEqual(['notices.problem.noItems'])
    expect(draftProblems('2026-12-20', [{ finding: '', basis: '第四十一条' }], now)).toEqual([
      { key: 'notices.problem.noFinding', values: { n: 1 } },
    ])
  })

  it('sends the photos of a finding, and keeps a row that has only photos to ask for its finding', () => {
    const drafts = [
      { finding: '疏散通道堆放杂物', basis: '', photos: ['photos/t/s/p1.jpg', 'photos/t/s/p2.jpg'] },
      { finding: '应急预案未演练', basis: '', photos: [] },
      { finding: ' ', basis: '', photos: ['photos/t/s/p3.jpg'] },
    ]
    expect(itemInputs(drafts)).toEqual([
      { finding: '疏散通道堆放杂物', basis: null, photos: ['photos/t/s/p1.jpg', 'photos/t/s/p2.jpg'] },
      { finding: '应急预案未演练', basis: null },
      { finding: '', basis: null, photos: ['photos/t/s/p3.jpg'] },
    ])
    expect(draftProblems('2026-12-20', drafts, now)).toEqual([{ key: 'notices.problem.noFinding', values: { n: 3 } }])
  })

  it('is refused with a finding over the server limit', () => {
    expect(keys(draftProblems('2026-12-20', [{ finding: 'x'.repeat(2001), basis: '' }], now))).toEqual([
      'notices.problem.findingTooLong',
    ])
  })
})

describe('an answer', () => {
  it('answers every item within the limit', () => {
    expect(answerProblems(['已重新标定', '已组织演练'])).toEqual([])
    expect(answerProblems(['已重新标定', '  '])).toEqual([{ key: 'notices.problem.noAnswer', values: { n: 2 } }])
    expect(keys(answerProblems(['y'.repeat(4001)]))).toEqual(['notices.problem.answerTooLong'])
  })

  it('is the enterprise’s to give while the notice is issued or returned', () => {
    expect(waitsForEnterprise('ISSUED')).toBe(true)
    expect(waitsForEnterprise('RETURNED')).toBe(true)
    expect(waitsForEnterprise('RESPONDED')).toBe(false)
    expect(waitsForEnterprise('VERIFIED')).toBe(false)
  })
})

describe('the notice list as CSV', () => {
  it('has one row per notice, in the page language', () => {
    const t = (key: string) => ({ 'noticeStatus.RETURNED': '已退回', 'notices.overdue': '已逾期' })[key] ?? key
    const row: NoticeRow = {
      id: 'n1',
      number: '南京市应急整改〔2026〕3号',
      status: 'RETURNED',
      overdue: true,
      deadline: '2026-12-01T15:59:59Z',
      issuedAt: '2026-11-20T02:00:00Z',
      receivedAt: null,
      site: { id: 's1', name: '东江一号厂区', divisionCode: '320102', tenantId: 't1', tenant: { name: '东江精细化工有限公司' } },
    }
    expect(noticeRows([row], t)).toEqual([
      ['南京市应急整改〔2026〕3号', '东江精细化工有限公司', '东江一号厂区', '已退回', '已逾期', '2026-12-01T15:59:59Z', '2026-11-20T02:00:00Z', null],
    ])
    expect(noticeHeader(t)[0]).toBe('notices.column.number')
  })
})
