// The report form in a browser's place: what it refuses before sending, the whole sending
// (division picked level by level, a photo uploaded under the solved challenge, the proof
// checked here with Node's SHA-256), the server's refusals beside the fields they name, and
// the wait a 429 asks.
import { createHash } from 'node:crypto'

import type { VueWrapper } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import ReportPage from '@/public/pages/ReportPage.vue'

import { type Call, json, mountPublic, publicServer, settle } from './harness'

const CATEGORIES = [
  { code: 'MAJOR_HAZARD', nameZh: '重大事故隐患', nameEn: 'Major accident hazard' },
  { code: 'ILLEGAL_OPERATION', nameZh: '非法违法生产经营', nameEn: 'Illegal production or business' },
]

function server(report: (call: Call) => Response) {
  return publicServer({
    'GET /api/v1/reports/categories': json(CATEGORIES),
    'GET /api/v1/reports/divisions': json([{ code: '320000', name: '江苏省', nameEn: 'Jiangsu' }]),
    'GET /api/v1/reports/divisions?parent=320000': json([{ code: '320100', name: '南京市', nameEn: 'Nanjing' }]),
    'GET /api/v1/reports/divisions?parent=320100': json([
      { code: '320102', name: '玄武区', nameEn: 'Xuanwu' },
      { code: '320104', name: '秦淮区', nameEn: 'Qinhuai' },
    ]),
    'GET /api/v1/reports/challenge': () => json({ challenge: 'test-challenge.1764756000', difficulty: 8 }),
    'POST /api/v1/reports': report,
  })
}

/** Uploads answered at once with a key; what they carried is kept. */
class FakeXhr {
  static sent: { url: string; headers: Record<string, string>; body: unknown }[] = []
  url = ''
  headers: Record<string, string> = {}
  status = 0
  responseText = ''
  upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null }
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  onabort: (() => void) | null = null
  open(_method: string, url: string): void {
    this.url = url
  }
  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value
  }
  getResponseHeader(): string | null {
    return null
  }
  send(body: unknown): void {
    FakeXhr.sent.push({ url: this.url, headers: this.headers, body })
    setTimeout(() => {
      this.upload.onprogress?.({ lengthComputable: true, loaded: 1, total: 2 } as ProgressEvent)
      this.status = 201
      this.responseText = JSON.stringify({ photo: `reports/photo-${FakeXhr.sent.length}` })
      this.onload?.()
    }, 0)
  }
  abort(): void {}
}

beforeEach(() => {
  FakeXhr.sent = []
  vi.stubGlobal('XMLHttpRequest', FakeXhr)
  URL.createObjectURL = vi.fn(() => 'blob:preview')
  URL.revokeObjectURL = vi.fn()
})

afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
  document.body.innerHTML = ''
})

const errorBeside = (wrapper: VueWrapper, field: string) => wrapper.find(`#error-${field}`)

async function pickDivision(wrapper: VueWrapper): Promise<void> {
  await wrapper.find('#division-province').setValue('320000')
  await settle()
  await wrapper.find('#division-city').setValue('320100')
  await settle()
  await wrapper.find('#division-county').setValue('320102')
  await settle()
}

async function fillReport(wrapper: VueWrapper): Promise<void> {
  await wrapper.find('#report-category').setValue('MAJOR_HAZARD')
  await wrapper.find('#report-description').setValue('仓库的消防通道被货物堵死，灭火器过期。')
  await pickDivision(wrapper)
  await wrapper.find('#report-address').setValue('玄武区中山路 1 号')
}

async function addPhoto(wrapper: VueWrapper): Promise<File> {
  const file = new File([new Uint8Array([0xff, 0xd8, 0xff, 0xe0])], 'hazard.jpg', { type: 'image/jpeg' })
  const input = wrapper.findAll('.photos input[type=file]')[1]!
  Object.defineProperty(input.element, 'files', { value: [file], configurable: true })
  await input.trigger('change')
  return file
}

const leadingZeroBits = (text: string) => {
  const digest = createHash('sha256').update(text, 'utf8').digest()
  let bits = 0
  for (const byte of digest) {
    if (byte === 0) bits += 8
    else return bits + Math.clz32(byte) - 24
  }
  return bits
}

describe('ReportPage', () => {
  it('shows the categories in the page’s language and the provinces to start from', async () => {
    server(() => json({}, 500))
    const { wrapper } = await mountPublic(ReportPage, '/report')
    expect(wrapper.findAll('#report-category option').map((o) => o.text())).toEqual(['请选择', '重大事故隐患', '非法违法生产经营'])
    expect(wrapper.findAll('#division-province option').map((o) => o.text())).toEqual(['请选择', '江苏省'])
    expect(wrapper.find('#division-city').exists()).toBe(false)
    const english = await mountPublic(ReportPage, '/report', {}, 'en')
    expect(english.wrapper.findAll('#report-category option').map((o) => o.text())).toContain('Major accident hazard')
  })

  it('refuses an incomplete draft beside its fields and sends nothing', async () => {
    const calls = server(() => json({}, 500))
    const { wrapper } = await mountPublic(ReportPage, '/report')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(errorBeside(wrapper, 'category').text()).toBe('请选择隐患类别')
    expect(errorBeside(wrapper, 'description').text()).toBe('请描述隐患')
    expect(errorBeside(wrapper, 'divisionCode').text()).toBe('请选择到区/县')
    expect(errorBeside(wrapper, 'where').text()).toBe('请填写详细地址，或使用你的位置')
    expect(wrapper.find('#report-category').attributes('aria-invalid')).toBe('true')
    expect(wrapper.find('#report-category').attributes('aria-describedby')).toContain('error-category')
    expect(document.activeElement?.id).toBe('report-category')
    expect(calls.filter((call) => call.method === 'POST' || call.url.endsWith('/challenge'))).toEqual([])

    // Fixed as it is edited, once a submit was tried.
    await wrapper.find('#report-description').setValue('楼道堆满易燃物')
    expect(errorBeside(wrapper, 'description').exists()).toBe(false)
  })

  it('asks a named reporter for a mainland mobile', async () => {
    const calls = server(() => json({}, 500))
    const { wrapper } = await mountPublic(ReportPage, '/report')
    await fillReport(wrapper)
    await wrapper.findAll('input[name=identity]')[1]!.setValue(true)
    await wrapper.find('#contact-name').setValue('王五')
    await wrapper.find('#contact-mobile').setValue('2380013800')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(wrapper.find('#contact-mobile-error').text()).toBe('手机号码应为 1 开头的 11 位数字')
    expect(wrapper.find('#contact-mobile').attributes('aria-invalid')).toBe('true')
    expect(document.activeElement?.id).toBe('contact-mobile')
    expect(calls.some((call) => call.method === 'POST')).toBe(false)
  })

  it('solves the challenge, uploads the photo under it, shows the server’s refusals beside their fields, then lands on the receipt', async () => {
    let tries = 0
    const calls = server(() => {
      tries += 1
      if (tries === 1) {
        return json(
          {
            errors: [
              { field: 'description', message: 'the description names a person' },
              { field: 'contact.mobile', message: 'not a mobile number' },
              { field: 'somethingElse', message: 'odd' },
            ],
          },
          400,
        )
      }
      return json({ receipt: 'AJ-7K3M-Q9PX-2D4H-VW8T' }, 201)
    })
    const { wrapper, router } = await mountPublic(ReportPage, '/report')
    await fillReport(wrapper)
    await wrapper.find('#report-subject').setValue('某某物流仓库')
    const file = await addPhoto(wrapper)
    expect(wrapper.find('.photos__preview').attributes('src')).toBe('blob:preview')
    await wrapper.findAll('input[name=identity]')[1]!.setValue(true)
    await wrapper.find('#contact-name').setValue('王五')
    await wrapper.find('#contact-mobile').setValue('138 0013 8000')

    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(tries).toBe(1))
    await settle()

    // The photo went under the solved challenge, and the report carried the same proof.
    expect(FakeXhr.sent).toHaveLength(1)
    expect(FakeXhr.sent[0]!.body).toBe(file)
    const [challenge, nonce] = FakeXhr.sent[0]!.headers['X-Anjian-PoW']!.split(':') as [string, string]
    expect(challenge).toBe('test-challenge.1764756000')
    expect(leadingZeroBits(challenge + nonce)).toBeGreaterThanOrEqual(8)
    const first = calls.find((call) => call.method === 'POST')!
    expect(first.init?.credentials).toBe('omit')
    expect(first.body).toEqual({
      category: 'MAJOR_HAZARD',
      description: '仓库的消防通道被货物堵死，灭火器过期。',
      divisionCode: '320102',
      location: null,
      address: '玄武区中山路 1 号',
      observedAt: null,
      photos: ['reports/photo-1'],
      contact: { name: '王五', mobile: '13800138000' },
      subject: '某某物流仓库',
      pow: { challenge, nonce },
    })

    // Refusals beside the fields they name; one the form does not show, above the button.
    expect(errorBeside(wrapper, 'description').text()).toBe('the description names a person')
    expect(wrapper.find('#contact-mobile-error').text()).toBe('not a mobile number')
    expect(wrapper.find('.notice--error[role=alert]').text()).toBe('somethingElse: odd')
    expect(router.currentRoute.value.name).toBe('report')

    // Fixed and sent again: the same proof and photo, no second challenge.
    await wrapper.find('#report-description').setValue('仓库的消防通道被货物堵死。')
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(router.currentRoute.value.name).toBe('receipt'), { timeout: 5000 })
    expect(calls.filter((call) => call.url.endsWith('/challenge'))).toHaveLength(1)
    expect(FakeXhr.sent).toHaveLength(1)
    expect(router.options.history.state).toMatchObject({ receipt: 'AJ-7K3M-Q9PX-2D4H-VW8T' })
  })

  it('says how long to wait when the server asks', async () => {
    server(() => json({ error: 'too many reports from this address' }, 429, { 'Retry-After': '30' }))
    const { wrapper } = await mountPublic(ReportPage, '/report')
    await fillReport(wrapper)
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(wrapper.find('.notice--error[role=alert]').exists()).toBe(true))
    expect(wrapper.find('.notice--error[role=alert]').text()).toBe('操作过于频繁，请 30 秒后再试。')
    expect(wrapper.find('button[type=submit]').attributes('disabled')).toBeUndefined()
  })

  it('refuses a picked file that is not a JPEG or PNG photo', async () => {
    server(() => json({}, 500))
    const { wrapper } = await mountPublic(ReportPage, '/report')
    const input = wrapper.findAll('.photos input[type=file]')[1]!
    const gif = new File(['GIF89a'], 'anim.gif', { type: 'image/gif' })
    Object.defineProperty(input.element, 'files', { value: [gif], configurable: true })
    await input.trigger('change')
    expect(wrapper.find('.photos').text()).toContain('anim.gif 不是 JPEG 或 PNG 图片')
    expect(wrapper.findAll('.photos__preview')).toHaveLength(0)
    expect(wrapper.findAll('.photos input[type=file]')[0]!.attributes()).toMatchObject({ accept: 'image/jpeg,image/png', capture: 'environment' })
  })
})
