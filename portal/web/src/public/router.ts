// The public portal's pages. Hash addresses (`/#/report`): the server answers `/` alone, and a
// receipt code handed between pages travels in the history state, never in an address a
// server or a log could see.
import { createRouter, createWebHashHistory, type RouterHistory } from 'vue-router'

import HomePage from './pages/HomePage.vue'

export function createPublicRouter(history: RouterHistory = createWebHashHistory()) {
  return createRouter({
    history,
    routes: [
      { path: '/', name: 'home', component: HomePage, meta: { title: '' } },
      { path: '/report', name: 'report', component: () => import('./pages/ReportPage.vue'), meta: { title: 'nav.report' } },
      { path: '/receipt', name: 'receipt', component: () => import('./pages/ReceiptPage.vue'), meta: { title: 'receipt.heading' } },
      { path: '/track', name: 'track', component: () => import('./pages/TrackPage.vue'), meta: { title: 'nav.track' } },
      { path: '/:rest(.*)*', redirect: { name: 'home' } },
    ],
    scrollBehavior: () => ({ top: 0 }),
  })
}
