// Anjian's GraphiQL page (was inline in graphiql.html; a file so the CSP needs no
// 'unsafe-inline' for scripts).
//
// Deliberately unlike strawberry's template:
// - the query, variables and headers are never read from URL parameters: a link could
//   otherwise open the page with an attacker's mutation ready to run, or plant headers;
// - headers are not persisted (shouldPersistHeaders: false), so a bearer token typed into
//   the Headers pane does not stay in localStorage for any later script or user to read;
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

  const fetcher = GraphiQL.createFetcher({
    url: fetchURL,
    subscriptionUrl: webSocketUrl(fetchURL),
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
    });
  }

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(AnjianGraphiQL));
})();
