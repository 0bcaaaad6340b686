import { startPortal } from '@/shared/portal-app'

import ConsoleShell from './components/ConsoleShell.vue'
import AlarmsPage from './pages/AlarmsPage.vue'
import OverviewPage from './pages/OverviewPage.vue'

startPortal('app', [
  {
    path: '',
    component: ConsoleShell,
    children: [
      { path: '', name: 'home', component: OverviewPage },
      { path: 'alarms', name: 'alarms', component: AlarmsPage, meta: { ownSiteFilter: true } },
      // The chart page carries ECharts: loaded when first opened.
      { path: 'sensors/:id?', name: 'sensor-history', component: () => import('./pages/SensorHistoryPage.vue') },
    ],
  },
])
