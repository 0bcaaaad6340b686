import '@/shared/styles/portal.css'
import './public.css'

import { createApp, watchEffect } from 'vue'

import { createPublicI18n } from './i18n'
import PublicRoot from './PublicRoot.vue'
import { createPublicRouter } from './router'

const i18n = createPublicI18n()
const router = createPublicRouter()
watchEffect(() => {
  const page = router.currentRoute.value.meta.title
  const brand = i18n.global.t('brand.title')
  document.title = typeof page === 'string' && page ? `${i18n.global.t(page)} · ${i18n.global.t('brand.name')}` : brand
})
createApp(PublicRoot).use(i18n).use(router).mount('#root')
