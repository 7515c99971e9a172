// The chat page: one browser tab = one WeChat user talking to the official account.
// Every text the bot or the user wrote is put on the page with textContent, never as HTML.
"use strict";

(() => {
  const OPENID_KEY = "wechat-sim.openid";
  const NICK_KEY = "wechat-sim.nickname";
  const FOLLOWED_KEY = "wechat-sim.followed";
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  const $ = (id) => document.getElementById(id);
  const chat = $("chat");
  const input = $("input");
  const sendButton = $("send");
  const followButton = $("follow");
  const nicknameInput = $("nickname");
  const link = $("link");
  const composer = $("composer");
  const menu = $("menu");
  const menuItems = $("menu-items");

  // An OpenID looks like the platform's: "o" + 27 URL-safe characters, fixed for this tab.
  function newOpenId() {
    const bytes = crypto.getRandomValues(new Uint8Array(27));
    return "o" + Array.from(bytes, (b) => ALPHABET[b & 63]).join("");
  }

  let openid = sessionStorage.getItem(OPENID_KEY);
  if (!openid) {
    openid = newOpenId();
    sessionStorage.setItem(OPENID_KEY, openid);
  }
  let nickname = sessionStorage.getItem(NICK_KEY) || "用户" + openid.slice(-4);

  let socket = null;
  let retryDelay = 500;
  let subscribed = true;
  let lastTime = 0;
  const seen = new Set();        // entry ids already on screen
  const awaiting = new Set();    // client ids whose delivery is still running
  let clientSeq = 0;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function scrollDown() {
    chat.scrollTop = chat.scrollHeight;
  }

  function timeLabel(at) {
    const d = new Date(at * 1000);
    const hm = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
    const today = new Date();
    if (d.toDateString() === today.toDateString()) return hm;
    return (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm;
  }

  // WeChat prints the time above a message when five minutes have passed.
  function stamp(at) {
    if (at - lastTime > 300) chat.append(el("div", "time", timeLabel(at)));
    lastTime = at;
  }

  function bubble(side, text, options = {}) {
    const row = el("div", "row " + side + (options.extra ? " " + options.extra : ""));
    const avatar = el("div", "avatar", side === "me" ? nickname.slice(0, 1) : "专");
    const body = el("div", "body");
    if (options.tag) body.append(el("div", "tag", options.tag));
    body.append(el("div", "bubble", text));
    row.append(avatar, body);
    if (options.clientId) row.dataset.clientId = options.clientId;
    chat.append(row);
    scrollDown();
    return row;
  }

  function systemLine(text) {
    chat.append(el("div", "system", text));
    scrollDown();
  }

  function render(entry) {
    if (entry.id !== undefined) {
      if (seen.has(entry.id)) return;
      seen.add(entry.id);
    }
    if (entry.via === "user") {
      // menu clicks and follows send an event, not a chat bubble
      if (!["text", "voice", "image"].includes(entry.kind)) return;
      stamp(entry.at);
      const pending = entry.client_id && awaiting.has(entry.client_id);
      bubble("me", entry.text, { clientId: entry.client_id, extra: pending ? "pending" : "" });
      return;
    }
    stamp(entry.at);
    if (entry.via === "notice") {
      chat.append(el("div", "notice", entry.text));
      scrollDown();
    } else if (entry.via === "subscription") {
      // a subscription notice arrives in the "服务通知" feed, not the chat; shown here marked
      bubble("them", entry.text, { tag: "服务通知 · 订阅通知", extra: "custom" });
    } else if (entry.via === "custom") {
      const tag = entry.kf_account ? "客服消息 · " + entry.kf_account : "客服消息";
      bubble("them", entry.text, { tag, extra: "custom" });
    } else {
      bubble("them", entry.text);
    }
    offerNotice(entry.text);
  }

  // A message asking to allow a subscription notice: the page plays WeChat's popup ("允许").
  function offerNotice(text) {
    if (!text || !text.includes("/wechat/subscribe") || !noticeTemplate) return;
    const button = el("button", "allow-notice", "允许接收一次服务通知");
    button.type = "button";
    button.addEventListener("click", () => {
      send({ kind: "notice_accept", template_id: noticeTemplate });
      button.disabled = true;
      button.textContent = "已允许";
    });
    chat.append(button);
    scrollDown();
  }

  function setSubscribed(value) {
    subscribed = value;
    followButton.textContent = value ? "取消关注" : "关注";
    followButton.classList.toggle("off", !value);
    input.disabled = !value;
    input.placeholder = value ? "输入你的问题" : "关注后才能发送消息";
    // scanning a code works for anyone: it is how a non-follower follows through a poster
    for (const button of menuItems.querySelectorAll("button:not(.scan)")) button.disabled = !value;
    updateSendButton();
  }

  function updateSendButton() {
    sendButton.disabled = !subscribed || input.value.trim() === "";
  }

  let codes = [];
  let noticeTemplate = null;

  function renderCodes(list) {
    codes = list;
    renderMenu(menuShown);
  }

  let menuShown = [];

  function renderMenu(items) {
    // the menu the platform holds (menu/create), one button per clickable item, then the
    // account's QR codes (qrcode/create): "scanning" one sends what the camera would
    menuShown = items;
    menuItems.replaceChildren();
    if (items.length === 0) menuItems.append(el("span", "menu-empty", "（公众号尚未设置菜单）"));
    let group = null;
    for (const item of items) {
      if (item.type && item.type !== "click") continue;
      if (item.group && item.group !== group) menuItems.append(el("span", "menu-group", item.group));
      group = item.group;
      const button = el("button", "", item.label);
      button.type = "button";
      button.dataset.key = item.key;
      button.disabled = !subscribed;
      button.addEventListener("click", () => send({ kind: "click", event_key: item.key }));
      menuItems.append(button);
    }
    if (codes.length) menuItems.append(el("span", "menu-group", "扫一扫（模拟扫描公众号二维码）"));
    for (const code of codes) {
      const button = el("button", "scan", "扫码 · " + code.scene);
      button.type = "button";
      button.dataset.ticket = code.ticket;
      button.title = "二维码图片：/cgi-bin/showqrcode?ticket=…";
      button.addEventListener("click", () => send({ kind: "scan", ticket: code.ticket }));
      menuItems.append(button);
    }
  }

  function showIdentity() {
    nicknameInput.value = nickname;
    const short = openid.slice(0, 6) + "…" + openid.slice(-4);
    const label = $("openid");
    label.textContent = "OpenID " + short;
    label.title = openid;
    label.dataset.openid = openid;
  }

  function onEvent(event) {
    switch (event.type) {
      case "menu":
        renderMenu(event.menu);
        break;
      case "qrcodes":
        renderCodes(event.qrcodes);
        break;
      case "hello":
        chat.replaceChildren();
        seen.clear();
        lastTime = 0;
        $("account").textContent = event.account_name;
        document.title = "微信公众号模拟器 · " + event.account_name;
        codes = event.qrcodes || [];
        noticeTemplate = (event.templates || [])[0] || null;
        renderMenu(event.menu);
        setSubscribed(event.subscribed);
        for (const entry of event.chat) render(entry);
        if (!sessionStorage.getItem(FOLLOWED_KEY)) {
          // a new user arrives by following the account, which greets them
          sessionStorage.setItem(FOLLOWED_KEY, "1");
          send({ kind: "subscribe" });
        }
        followButton.disabled = false;
        break;
      case "message":
        render(event.entry);
        break;
      case "state":
        setSubscribed(event.subscribed);
        systemLine(event.subscribed ? "你已关注该公众号" : "你已取消关注该公众号");
        break;
      case "delivery": {
        awaiting.delete(event.client_id);
        const row = event.client_id && chat.querySelector('[data-client-id="' + CSS.escape(event.client_id) + '"]');
        if (row) row.classList.remove("pending");
        break;
      }
      case "error":
        systemLine("发送失败：" + event.error);
        break;
      default:
        break;
    }
  }

  function send(action) {
    const clientId = "c" + Date.now().toString(36) + "-" + (clientSeq++);
    const message = Object.assign({ type: "send", client_id: clientId }, action);
    awaiting.add(clientId);
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return;
    }
    // no live connection: post it; the reply shows up when the feed reconnects
    if (action.kind === "text") bubble("me", action.content, { clientId, extra: "pending" });
    fetch("/sim/send", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ openid, type: action.kind }, action)),
    }).catch(() => systemLine("网络不可用，消息未发出"));
  }

  function sendTyped() {
    const text = input.value.trim();
    if (!text || !subscribed) return;
    input.value = "";
    updateSendButton();
    send({ kind: "text", content: text });
    input.focus();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + location.host + "/sim/ws?openid=" + encodeURIComponent(openid) +
      "&nickname=" + encodeURIComponent(nickname);
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      retryDelay = 500;
      link.hidden = true;
    });
    socket.addEventListener("message", (msg) => {
      let event;
      try {
        event = JSON.parse(msg.data);
      } catch (err) {
        return;
      }
      onEvent(event);
    });
    socket.addEventListener("close", () => {
      socket = null;
      link.hidden = false;
      link.textContent = "与模拟器的连接已断开，正在重连…";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 5000);
    });
  }

  function tickClock() {
    const now = new Date();
    $("clock").textContent = now.getHours() + ":" + String(now.getMinutes()).padStart(2, "0");
  }

  sendButton.addEventListener("click", sendTyped);
  input.addEventListener("input", updateSendButton);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.isComposing) {
      e.preventDefault();
      sendTyped();
    }
  });
  followButton.addEventListener("click", () => send({ kind: subscribed ? "unsubscribe" : "subscribe" }));
  $("to-menu").addEventListener("click", () => {
    composer.hidden = true;
    menu.hidden = false;
  });
  $("to-keyboard").addEventListener("click", () => {
    menu.hidden = true;
    composer.hidden = false;
    input.focus();
  });
  nicknameInput.addEventListener("change", () => {
    nickname = nicknameInput.value.trim() || "用户" + openid.slice(-4);
    nicknameInput.value = nickname;
    sessionStorage.setItem(NICK_KEY, nickname);
    for (const avatar of chat.querySelectorAll(".row.me .avatar")) avatar.textContent = nickname.slice(0, 1);
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "nickname", nickname }));
  });

  showIdentity();
  tickClock();
  setInterval(tickClock, 30000);
  connect();
})();
