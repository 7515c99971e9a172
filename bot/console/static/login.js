// The login page: posts the account and password as JSON, then opens the console.
// Messages from the server are shown with textContent only.
"use strict";

(() => {
  const form = document.getElementById("login-form");
  const login = document.getElementById("login");
  const password = document.getElementById("password");
  const error = document.getElementById("error");
  const submit = document.getElementById("submit");
  const base = new URL(".", location.href);

  function showError(text) {
    error.textContent = text;
    error.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!login.value.trim() || !password.value) {
      showError("请输入账号和密码。");
      return;
    }
    submit.disabled = true;
    submit.textContent = "正在登录…";
    try {
      const response = await fetch(new URL("login", base), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ login: login.value.trim(), password: password.value }),
        credentials: "same-origin",
      });
      let body = {};
      try {
        body = await response.json();
      } catch (err) {
        body = {};
      }
      if (response.ok) {
        location.assign(new URL("./", base).href);
        return;
      }
      showError(body.error || "登录暂时无法完成，请稍后再试。");
      password.value = "";
      password.focus();
    } catch (err) {
      showError("网络不可用，请检查网络后再试。");
    } finally {
      submit.disabled = false;
      submit.textContent = "登录";
    }
  });
})();
