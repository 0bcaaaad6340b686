import '@/shared/styles/portal.css'

import { createApp, watchEffect } from 'vue'

import { createPortalI18n } from '@/shared/i18n'

import LandingPage from './LandingPage.vue'

const i18n = createPortalI18n()
watchEffect(() => {
  document.title = i18n.global.t('brand.title')
})
createApp(LandingPage).use(i18n).mount('#root')
