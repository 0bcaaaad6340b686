// Starting a portal page (`/app/`, `/gov/`): Pinia, the language, the router with the session
// guard, under the shared root.
import '@/shared/styles/portal.css'

import { createPinia } from 'pinia'
import { createApp } from 'vue'
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'

import AcceptInvitationPage from './components/AcceptInvitationPage.vue'
import ChangePasswordPage from './components/ChangePasswordPage.vue'
import ForgotPasswordPage from './components/ForgotPasswordPage.vue'
import NotFoundPage from './components/NotFoundPage.vue'
import ResetPasswordPage from './components/ResetPasswordPage.vue'
import PortalRoot from './components/PortalRoot.vue'
import SignedInLayout from './components/SignedInLayout.vue'
import SignInPage from './components/SignInPage.vue'
import { createPortalI18n } from './i18n'
import { useConnectionStore, watchConnection } from './session/connection'
import { installSessionGuard } from './session/guard'
import type { Portal } from './session/portal'

/** `pages` are the routes behind sign-in, relative to the portal (`''` is its home, named
 * `home`); the sign-in page, the pages around it (forgotten password, reset, invitation), the
 * change of one's own password and a not-found page are added. */
export function startPortal(portal: Portal, pages: RouteRecordRaw[]): void {
  const router = createRouter({
    history: createWebHistory(`/${portal}/`),
    routes: [
      {
        path: '/login',
        name: 'login',
        component: SignInPage,
        props: { portal },
        meta: { public: true },
      },
      // The mails link here: reachable without a session, each page asks what it needs.
      { path: '/forgot-password', name: 'forgot-password', component: ForgotPasswordPage, props: { portal }, meta: { public: true } },
      { path: '/reset-password', name: 'reset-password', component: ResetPasswordPage, props: { portal }, meta: { public: true } },
      {
        path: '/accept-invitation',
        name: 'accept-invitation',
        component: AcceptInvitationPage,
        props: { portal },
        meta: { public: true },
      },
      {
        path: '/',
        component: SignedInLayout,
        props: { portal },
        children: [
          ...pages,
          { path: 'password', name: 'change-password', component: ChangePasswordPage },
          { path: ':pathMatch(.*)*', name: 'not-found', component: NotFoundPage },
        ],
      },
    ],
  })
  const pinia = createPinia()
  const app = createApp(PortalRoot, { titleKey: `portal.${portal}Title` }).use(pinia)
  watchConnection(useConnectionStore(pinia))
  installSessionGuard(router)
  app.use(createPortalI18n()).use(router).mount('#root')
}
