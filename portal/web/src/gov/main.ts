import { startPortal } from '@/shared/portal-app'

import GovHome from './pages/GovHome.vue'

startPortal('gov', [{ path: '', name: 'home', component: GovHome }])
