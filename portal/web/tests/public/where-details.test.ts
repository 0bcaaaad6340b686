// The place of a report: the phone's position where the browser offers it (a secure context),
// and an explanation instead of a dead button where it does not (plain HTTP on a LAN address).
import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, ref } from 'vue'

import WhereDetails from '@/public/components/WhereDetails.vue'
import { createPublicI18n } from '@/public/i18n'
import type { Place } from '@/public/logic/report-form'

function secure(value: boolean, geolocation?: Partial<Geolocation>): void {
  Object.defineProperty(window, 'isSecureContext', { value, configurable: true })
  if (geolocation) Object.defineProperty(navigator, 'geolocation', { value: geolocation, configurable: true })
}

function mountWhere() {
  const place = ref<Place | null>(null)
  const address = ref('')
  const Host = defineComponent(() => () =>
    h(WhereDetails, {
      address: address.value,
      'onUpdate:address': (v: string) => (address.value = v),
      location: place.value,
      'onUpdate:location': (v: Place | null) => (place.value = v),
      error: null,
      errorId: 'error-where',
    }),
  )
  return { wrapper: mount(Host, { global: { plugins: [createPublicI18n('zh-CN')] } }), place }
}

afterEach(() => {
  vi.restoreAllMocks()
  Reflect.deleteProperty(window, 'isSecureContext')
  Reflect.deleteProperty(navigator, 'geolocation')
})

describe('WhereDetails', () => {
  it('explains that a page over plain HTTP cannot ask for the position', () => {
    secure(false, { getCurrentPosition: vi.fn() })
    const { wrapper } = mountWhere()
    expect(wrapper.text()).toContain('浏览器只在 HTTPS 网址或本机（localhost）上提供定位')
    expect(wrapper.findAll('button')).toHaveLength(0)
  })

  it('takes the phone’s position, shows it, and lets it go again', async () => {
    const getCurrentPosition = vi.fn((done: PositionCallback) =>
      done({ coords: { latitude: 32.048712, longitude: 118.797531, accuracy: 14.6 } } as GeolocationPosition),
    )
    secure(true, { getCurrentPosition })
    const { wrapper, place } = mountWhere()
    await wrapper.find('button').trigger('click')
    expect(place.value).toEqual({ lat: 32.048712, lon: 118.797531, accuracy: 14.6 })
    expect(wrapper.text()).toContain('已获取你的位置：32.04871，118.79753（误差约 15 米）')
    await wrapper.findAll('button').find((b) => b.text() === '不使用位置')!.trigger('click')
    expect(place.value).toBeNull()
  })

  it('says what to do when the position is refused', async () => {
    secure(true, {
      getCurrentPosition: vi.fn((_done: PositionCallback, fail?: PositionErrorCallback | null) =>
        fail?.({ code: 1, PERMISSION_DENIED: 1, POSITION_UNAVAILABLE: 2, TIMEOUT: 3, message: 'denied' } as GeolocationPositionError),
      ),
    })
    const { wrapper, place } = mountWhere()
    await wrapper.find('button').trigger('click')
    expect(place.value).toBeNull()
    expect(wrapper.text()).toContain('没有得到定位权限')
  })
})
