// The receipt page: the code from the history state shown large, copied (through a selection
// where the clipboard API is missing, as on plain HTTP), downloaded as a text file, and handed
// to the tracking page; without a code, a way to tracking.
import { afterEach, describe, expect, it, vi } from 'vitest'

import ReceiptPage from '@/public/pages/ReceiptPage.vue'

import { mountPublic, settle } from './harness'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
  document.body.innerHTML = ''
})

const CODE = 'AJ-7K3M-Q9PX-2D4H-VW8T'

describe('ReceiptPage', () => {
  it('shows the code and the warning to keep it', async () => {
    const { wrapper } = await mountPublic(ReceiptPage, '/receipt', { receipt: CODE, issuedAt: '2026-12-03T10:00:00.000Z' })
    expect(wrapper.find('[data-testid=receipt-code]').text()).toBe(CODE)
    expect(wrapper.find('.receipt__keep').text()).toContain('唯一凭证')
    expect(wrapper.find('.receipt__keep').text()).toContain('身份严格保密')
  })

  it('copies through a selection where the clipboard API is missing', async () => {
    const copied: string[] = []
    document.execCommand = vi.fn((command: string) => {
      const selected = document.activeElement as HTMLTextAreaElement | null
      if (command === 'copy' && selected?.value) copied.push(selected.value)
      return true
    })
    const { wrapper } = await mountPublic(ReceiptPage, '/receipt', { receipt: CODE })
    await wrapper.findAll('button').find((b) => b.text() === '复制回执码')!.trigger('click')
    await settle()
    expect(copied).toEqual([CODE])
    expect(wrapper.find('[role=status]').text()).toBe('已复制')
    expect(document.querySelector('textarea')).toBeNull()
  })

  it('downloads a small text file with the code and where to track it', async () => {
    let saved: Blob | null = null
    let name = ''
    URL.createObjectURL = vi.fn((blob: Blob) => {
      saved = blob
      return 'blob:receipt'
    })
    URL.revokeObjectURL = vi.fn()
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      name = this.download
    })
    const { wrapper } = await mountPublic(ReceiptPage, '/receipt', { receipt: CODE, issuedAt: '2026-12-03T10:00:00.000Z' })
    await wrapper.findAll('button').find((b) => b.text() === '下载回执')!.trigger('click')
    expect(name).toBe(`举报回执-${CODE}.txt`)
    const text = await saved!.text()
    expect(text).toContain(`回执码：${CODE}`)
    expect(text).toContain(`查询进度：${window.location.origin}/#/track`)
    expect(text).toContain('2026')
  })

  it('hands the code to the tracking page', async () => {
    const { wrapper, router } = await mountPublic(ReceiptPage, '/receipt', { receipt: CODE })
    await wrapper.findAll('button').find((b) => b.text() === '查询进度')!.trigger('click')
    // The tracking page is loaded lazily: its first import takes real time.
    await vi.waitFor(() => expect(router.currentRoute.value.name).toBe('track'), { timeout: 5000 })
    expect(router.options.history.state).toMatchObject({ receipt: CODE })
  })

  it('without a code, points to tracking', async () => {
    const { wrapper } = await mountPublic(ReceiptPage, '/receipt')
    expect(wrapper.find('[data-testid=receipt-code]').exists()).toBe(false)
    expect(wrapper.text()).toContain('这里没有回执码')
  })
})
