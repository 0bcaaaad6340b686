// Anjian's GraphiQL page (was inline in graphiql.html; a file so the CSP needs no
// 'unsafe-inline' for scripts).
//
// Deliberately unlike strawberry's template:
// - the query, variables and headers are never read from URL parameters: a link could
//   otherwise open the page with an attacker's mutation ready to run, or plant headers;
// - headers are not persisted (shouldPersistHeaders: false, and the storage below drops them
//   from the history too), so a bearer token typed into the Headers pane does not stay in
//   localStorage for any later script or user of the browser to read;
// - no CSRF cookie is read or sent: GraphiQL authenticates with the Authorization header.
"use strict";

(function () {
  const EXAMPLE_QUERY = `# 安监 Anjian · GraphQL
#
# 1. 登录 / Sign in: run the mutation below (▶ or Ctrl-Enter); demo logins are listed by
#    \`anjian demo\` and in the README.
# 2. 在下方 Headers 面板填入 / In the Headers pane below put:
#      {"Authorization": "Bearer <token>"}
#    (不会保存在浏览器中 / it is not saved in the browser)
# 3. 查询 / Then query, for example:
#      { me { email memberships { domain role } }
#        sites { id name divisionCode sensors { code kind unit latest { ts value } } } }

mutation Login {
  login(email: "owner@huagong1.demo.anjian.cn", password: "anjian-demo-2026") {
    token
  }
}
`;

  const fetchURL = window.location.origin + window.location.pathname;

  function webSocketUrl(url) {
    const parsed = new URL(url);
    parsed.protocol = parsed.protocol === "https:" ? "wss:" : "ws:";
    parsed.hash = "";
    parsed.search = "";
    return parsed.toString();
  }

  // shouldPersistHeaders: false keeps the Headers pane out of storage, but GraphiQL 3.8's
  // history ("graphiql:queries", favourites) still saves each run's headers. Every value
  // GraphiQL stores passes through here with its headers dropped, and what an earlier page
  // (which persisted headers) left behind is scrubbed once on load.
  const NAMESPACE = "graphiql:";

  function withoutHeaders(value) {
    if (Array.isArray(value)) {
      return value.map(withoutHeaders);
    }
    if (value && typeof value === "object") {
      const copy = {};
      for (const key of Object.keys(value)) {
        copy[key] = key === "headers" ? null : withoutHeaders(value[key]);
      }
      return copy;
    }
    return value;
  }

  function scrub(text) {
    try {
      return JSON.stringify(withoutHeaders(JSON.parse(text)));
    } catch (_notJson) {
      return text;
    }
  }

  const storage = {
    getItem: (key) => window.localStorage.getItem(key),
    setItem: (key, value) =>
      window.localStorage.setItem(
        key,
        key === NAMESPACE + "headers" ? "" : scrub(String(value)),
      ),
    removeItem: (key) => window.localStorage.removeItem(key),
    get length() {
      return Object.keys(window.localStorage).filter((k) => k.startsWith(NAMESPACE)).length;
    },
    clear() {
      for (const key of Object.keys(window.localStorage)) {
        if (key.startsWith(NAMESPACE)) {
          window.localStorage.removeItem(key);
        }
      }
    },
  };

  for (const key of Object.keys(window.localStorage)) {
    if (key === NAMESPACE + "headers") {
      window.localStorage.removeItem(key);
    } else if (key.startsWith(NAMESPACE)) {
      storage.setItem(key, window.localStorage.getItem(key));
    }
  }

  // A browser signed in to a portal holds the session cookie, which the server takes only
  // with this header: this page is of the server's own origin, like the portals.
  const fetcher = GraphiQL.createFetcher({
    url: fetchURL,
    subscriptionUrl: webSocketUrl(fetchURL),
    headers: { "X-Anjian-CSRF": "1" },
  });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();

  function AnjianGraphiQL() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: EXAMPLE_QUERY,
      defaultEditorToolsVisibility: true,
      plugins: [explorer],
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      storage: storage,
    });
  }

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(AnjianGraphiQL));
})();
