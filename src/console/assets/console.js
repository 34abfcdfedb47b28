// hookrelay console: the one script. A portal link carries its token in the
// URL fragment (#hrt_...), which browsers never send to a server; this hands
// it to the sign-in form and submits it, after taking it out of the address
// bar and history. On a portal page already signed in, such a link goes to
// the sign-in form first (also when only the fragment changed, which loads
// no page), and the server asks before replacing a session of another
// tenant. Without JavaScript the same form takes the token pasted by hand.
// Nothing else here: every page works without it.
(function () {
  "use strict";
  function follow() {
    var token = window.location.hash.replace(/^#/, "");
    var form = document.getElementById("fragment-sign-in");
    if (!form) {
      if (/^hrt_/.test(token)) {
        window.location.replace("/portal/sign-in#" + token);
      }
      return;
    }
    if (!token) { return; }
    history.replaceState(null, "", window.location.pathname + window.location.search);
    form.elements.token.value = decodeURIComponent(token);
    form.submit();
  }
  window.addEventListener("hashchange", follow);
  follow();
})();
