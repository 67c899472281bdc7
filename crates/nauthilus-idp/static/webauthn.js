// The WebAuthn ceremonies of the IdP pages (the pages' only script; served from
// /idp/static/webauthn.js under a CSP without inline script). Each part starts only when its
// element is on the page, and un-hides it: without JavaScript the pages work without it.
"use strict";
(function () {
  function b64urlToBuf(s) {
    const pad = "=".repeat((4 - (s.length % 4)) % 4);
    const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creationOptions(o) {
    const pk = o.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    pk.user.id = b64urlToBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return { publicKey: pk };
  }
  function requestOptions(o) {
    const pk = o.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return { publicKey: pk };
  }
  function registration(cred) {
    return {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        attestationObject: bufToB64url(cred.response.attestationObject),
        clientDataJSON: bufToB64url(cred.response.clientDataJSON),
        transports: cred.response.getTransports ? cred.response.getTransports() : undefined,
      },
    };
  }
  function assertion(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        authenticatorData: bufToB64url(r.authenticatorData),
        clientDataJSON: bufToB64url(r.clientDataJSON),
        signature: bufToB64url(r.signature),
        userHandle: r.userHandle ? bufToB64url(r.userHandle) : null,
      },
    };
  }
  async function call(url, body) {
    const init = body === undefined
      ? { method: "GET", credentials: "same-origin" }
      : { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    const r = await fetch(url, init);
    const json = await r.json().catch(function () { return {}; });
    if (!r.ok) throw new Error(json.error || ("HTTP " + r.status));
    return json;
  }
  function fail(el, err) {
    if (!el) return;
    el.textContent = el.dataset.message + (err && err.message ? " (" + err.message + ")" : "");
    el.hidden = false;
  }
  if (!window.PublicKeyCredential) return;

  // The login page: passkey-only sign-in, in the username field's autofill where the browser
  // offers conditional mediation, and on the button.
  const login = document.getElementById("passkey-login");
  if (login) {
    login.hidden = false;
    const target = { csrf: login.dataset.csrf };
    target[login.dataset.nextKey] = login.dataset.nextValue;
    const error = document.getElementById("passkey-error");
    // The autofill request (conditional mediation), ended before the button asks in a dialog.
    let controller = null;
    let waiting = Promise.resolve();
    async function signIn(signal) {
      const begun = await call("/login/passkey/begin", target);
      if (signal && signal.aborted) throw new Error("aborted");
      const options = requestOptions(begun.options);
      if (signal) {
        options.mediation = "conditional";
        options.signal = signal;
      }
      const cred = await navigator.credentials.get(options);
      const body = Object.assign({ ceremony: begun.ceremony, credential: assertion(cred) }, target);
      const done = await call("/login/passkey/finish", body);
      window.location.assign(done.redirect);
    }
    document.getElementById("passkey-button").addEventListener("click", async function () {
      if (controller) controller.abort();
      await waiting;
      signIn(null).catch(function (e) { fail(error, e); });
    });
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      controller = new AbortController();
      const signal = controller.signal;
      waiting = PublicKeyCredential.isConditionalMediationAvailable()
        .then(function (yes) { if (yes && !signal.aborted) return signIn(signal); })
        .catch(function () { /* aborted or dismissed: the button remains */ });
    }
  }

  // The second-factor step: an assertion with one of the account's keys.
  const step = document.getElementById("mfa-webauthn");
  if (step) {
    step.hidden = false;
    const error = document.getElementById("mfa-key-error");
    document.getElementById("mfa-key-button").addEventListener("click", async function () {
      try {
        const target = { pending: step.dataset.pending, csrf: step.dataset.csrf };
        const options = requestOptions(await call("/login/mfa/webauthn/begin", target));
        delete options.mediation;
        const cred = await navigator.credentials.get(options);
        const remember = document.getElementById("remember");
        const body = Object.assign({ credential: assertion(cred), remember: !!(remember && remember.checked) }, target);
        const done = await call("/login/mfa/webauthn/finish", body);
        window.location.assign(done.redirect);
      } catch (e) { fail(error, e); }
    });
  }

  // The self-service page: register a named key or passkey.
  const reg = document.getElementById("key-register");
  if (reg) {
    reg.hidden = false;
    const error = document.getElementById("key-error");
    document.getElementById("key-add").addEventListener("click", async function () {
      try {
        const name = document.getElementById("key-name").value.trim();
        const options = creationOptions(await call(reg.dataset.begin));
        const cred = await navigator.credentials.create(options);
        const done = await call(reg.dataset.finish, { csrf: reg.dataset.csrf, name: name, credential: registration(cred) });
        window.location.assign(done.redirect);
      } catch (e) { fail(error, e); }
    });
  }
})();
