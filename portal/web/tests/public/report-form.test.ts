// The report form's rules: what a draft must hold, the JSON it becomes, and where a field the
// server names is shown.
import { describe, expect, it } from 'vitest'

import {
  draftProblems,
  emptyDraft,
  formFieldOf,
  localInputValue,
  normaliseMobile,
  observedInstant,
  type ReportDraft,
  reportPayload,
} from '@/public/logic/report-form'

const NOW = new Date('2026-12-03T10:00:00Z')

function complete(overrides: Partial<ReportDraft> = {}): ReportDraft {
  return {
    ...emptyDraft(),
    category: 'MAJOR_HAZARD',
    description: '  仓库消防通道被货物堵死  ',
    divisionCode: '320102',
    address: '玄武区某路 1 号',
    ...overrides,
  }
}

describe('draftProblems', () => {
  it('finds nothing wrong with a complete anonymous draft', () => {
    expect(draftProblems(complete(), 0, NOW)).toEqual({})
  })

  it('asks for the category, the description, the division and an address or a place', () => {
    expect(draftProblems(emptyDraft(), 0, NOW)).toEqual({
      category: 'errors.categoryMissing',
      description: 'errors.descriptionMissing',
      divisionCode: 'errors.divisionMissing',
      where: 'errors.whereMissing',
    })
    expect(draftProblems(complete({ description: '   \n ' }), 0, NOW).description).toBe('errors.descriptionMissing')
    // A place from the phone stands for the address.
    expect(draftProblems(complete({ address: '', location: { lat: 32.05, lon: 118.8, accuracy: 20 } }), 0, NOW)).toEqual({})
  })

  it('refuses a time seen in the future, but not one a minute ahead of a slow clock', () => {
    const local = (iso: string) => localInputValue(new Date(iso))
    expect(draftProblems(complete({ observedAt: local('2026-12-03T11:00:00Z') }), 0, NOW).observedAt).toBe('errors.observedAtFuture')
    expect(draftProblems(complete({ observedAt: local('2026-12-03T10:00:30Z') }), 0, NOW).observedAt).toBeUndefined()
    expect(draftProblems(complete({ observedAt: local('2026-12-01T08:15:00Z') }), 0, NOW)).toEqual({})
    expect(draftProblems(complete({ observedAt: 'yesterday' }), 0, NOW).observedAt).toBe('errors.observedAtBad')
  })

  it('refuses more than five photos and over-long texts', () => {
    expect(draftProblems(complete(), 5, NOW)).toEqual({})
    expect(draftProblems(complete(), 6, NOW).photos).toBe('errors.photosTooMany')
    expect(draftProblems(complete({ description: '字'.repeat(2001) }), 0, NOW).description).toBe('errors.descriptionLong')
    expect(draftProblems(complete({ description: '字'.repeat(2000) }), 0, NOW).description).toBeUndefined()
    expect(draftProblems(complete({ address: 'a'.repeat(201) }), 0, NOW).where).toBe('errors.addressLong')
    expect(draftProblems(complete({ subject: 'a'.repeat(201) }), 0, NOW).subject).toBe('errors.subjectLong')
  })

  it('asks a named reporter for a name and a mainland mobile', () => {
    expect(draftProblems(complete({ anonymous: false }), 0, NOW)).toEqual({
      name: 'errors.nameMissing',
      mobile: 'errors.mobileMissing',
    })
    for (const bad of ['12800138000', '1380013800', '138001380000', '23800138000', '1380013800a', '+1 415 555 0100']) {
      expect(draftProblems(complete({ anonymous: false, name: '王五', mobile: bad }), 0, NOW).mobile, bad).toBe('errors.mobileBad')
    }
    for (const good of ['13800138000', '19912345678', '138 0013 8000', '+86 138-0013-8000']) {
      expect(draftProblems(complete({ anonymous: false, name: '王五', mobile: good }), 0, NOW), good).toEqual({})
    }
    // An anonymous reporter's leftover contact fields are not checked (nor sent).
    expect(draftProblems(complete({ anonymous: true, mobile: 'nonsense' }), 0, NOW)).toEqual({})
  })
})

describe('reportPayload', () => {
  const pow = { challenge: 'c', nonce: '42' }

  it('is the JSON of CONTRACT.md, blanks as null, the contact only when named', () => {
    const observedAt = localInputValue(new Date('2026-12-02T08:30:00Z'))
    expect(reportPayload(complete({ observedAt, subject: ' ' }), ['k1', 'k2'], pow)).toEqual({
      category: 'MAJOR_HAZARD',
      description: '仓库消防通道被货物堵死',
      divisionCode: '320102',
      location: null,
      address: '玄武区某路 1 号',
      observedAt: '2026-12-02T08:30:00.000Z',
      photos: ['k1', 'k2'],
      contact: null,
      subject: null,
      pow,
    })
    const named = reportPayload(
      complete({ anonymous: false, name: ' 王五 ', mobile: '+86 138 0013 8000', subject: '某化工厂', address: '', location: { lat: 32.05, lon: 118.79, accuracy: 12 } }),
      [],
      pow,
    )
    expect(named.contact).toEqual({ name: '王五', mobile: '13800138000' })
    expect(named.location).toEqual({ lat: 32.05, lon: 118.79 })
    expect(named.address).toBeNull()
    expect(named.subject).toBe('某化工厂')
    expect(named.observedAt).toBeNull()
  })

  it('reads the time seen on the reader’s clock, with its zone', () => {
    expect(observedInstant('')).toBeNull()
    const local = localInputValue(new Date('2026-12-02T23:59:00Z'))
    expect(observedInstant(local)).toBe('2026-12-02T23:59:00.000Z')
    expect(normaliseMobile('(+86) 139-1234-5678')).toBe('13912345678')
  })
})

describe('formFieldOf', () => {
  it('puts each field the server names beside the part of the form it belongs to', () => {
    expect(formFieldOf('description')).toBe('description')
    expect(formFieldOf('contact.mobile')).toBe('mobile')
    expect(formFieldOf('contact.name')).toBe('name')
    expect(formFieldOf('contact')).toBe('name')
    expect(formFieldOf('photos[3]')).toBe('photos')
    expect(formFieldOf('photos.1')).toBe('photos')
    expect(formFieldOf('location.lat')).toBe('where')
    expect(formFieldOf('address')).toBe('where')
    expect(formFieldOf('divisionCode')).toBe('divisionCode')
    expect(formFieldOf('pow')).toBeNull()
    expect(formFieldOf('')).toBeNull()
  })
})
