import { startPortal } from '@/shared/portal-app'

import ConsoleHome from './pages/ConsoleHome.vue'

startPortal('app', [{ path: '', name: 'home', component: ConsoleHome }])
