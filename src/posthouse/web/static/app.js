// posthouse webmail: keyboard shortcuts, select-all, folder menu, address
// suggestions, draft autosave, confirmations. No framework, no network access
// beyond this site's own /api/v1 and /compose.
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf") || "";

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }
  function click(id) {
    var el = document.getElementById(id);
    if (el) { el.click(); return true; }
    return false;
  }

  // Confirm destructive forms.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });

  // Folder menu on small screens.
  var toggle = document.getElementById("menu-toggle");
  var sidebar = document.getElementById("sidebar");
  if (toggle && sidebar) {
    toggle.addEventListener("click", function () {
      var open = sidebar.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Select all.
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('#list-form input[name="uid"]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }

  // Keyboard shortcuts.
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.msg-row"));
  var current = -1;
  function focusRow(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r) { r.classList.remove("focused"); });
    rows[current].classList.add("focused");
    var link = rows[current].querySelector("a.open");
    if (link) link.focus();
  }
  var help = document.getElementById("shortcuts");
  var helpClose = document.getElementById("shortcuts-close");
  if (helpClose) helpClose.addEventListener("click", function () { help.hidden = true; });
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape" && help && !help.hidden) { help.hidden = true; return; }
    if (typing(document.activeElement)) return;
    var handled = true;
    switch (ev.key) {
      case "c": window.location.href = "/compose"; break;
      case "/": var q = document.getElementById("q"); if (q) q.focus(); else handled = false; break;
      case "j": focusRow(current + 1); break;
      case "k": focusRow(current - 1); break;
      case "x":
        if (current >= 0) { var box = rows[current].querySelector('input[name="uid"]'); if (box) box.checked = !box.checked; }
        break;
      case "r": handled = click("reply"); break;
      case "a": handled = click("reply-all"); break;
      case "f": handled = click("forward"); break;
      case "s": handled = click("flag"); break;
      case "#": handled = click("delete") || click("delete-selected"); break;
      case "u": handled = click("back"); break;
      case "?": if (help) { help.hidden = !help.hidden; if (!help.hidden && helpClose) helpClose.focus(); } break;
      default: handled = false;
    }
    if (handled) ev.preventDefault();
  });

  // Address suggestions: people you have written to.
  var contacts = document.getElementById("contacts");
  document.querySelectorAll("input.addresses").forEach(function (input) {
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var value = input.value;
        var cut = value.lastIndexOf(",");
        var head = cut >= 0 ? value.slice(0, cut + 1) + " " : "";
        var word = value.slice(cut + 1).trim();
        if (word.length < 1 || !contacts) return;
        fetch("/api/v1/contacts?q=" + encodeURIComponent(word), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (list) {
            contacts.textContent = "";
            list.forEach(function (addr) {
              var option = document.createElement("option");
              option.value = head + addr;
              contacts.appendChild(option);
            });
          })
          .catch(function () {});
      }, 150);
    });
  });

  // Drafts.
  var form = document.getElementById("compose-form");
  if (form) {
    var status = document.getElementById("autosave-status");
    var dirty = false;
    var sending = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("submit", function () { sending = true; });
    // Saved every 30 seconds while the message changes, and on request (the
    // "posthouse:autosave" event, which tests use instead of waiting).
    var save = function () {
      if (!dirty || sending) return;
      dirty = false;
      var data = new FormData(form);
      data.set("action", "save");
      fetch("/compose", {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": csrf }
      })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          if (answer.draft) {
            document.getElementById("draft-ref").value = answer.draft;
            document.getElementById("carry").value = answer.draft;
            var files = document.getElementById("files");
            if (files) files.value = "";
            rebuildCarried(answer.attachments || []);
            if (status) status.textContent = "Draft saved " + new Date().toLocaleTimeString();
          } else if (status && answer.error) {
            status.textContent = "Not saved: " + answer.error;
          }
        })
        .catch(function () { if (status) status.textContent = "Draft not saved (offline?)"; });
    };
    setInterval(save, 30000);
    form.addEventListener("posthouse:autosave", save);
  }
  function rebuildCarried(list) {
    var box = form.querySelector("fieldset.carried");
    if (!list.length) { if (box) box.remove(); return; }
    if (!box) {
      box = document.createElement("fieldset");
      box.className = "carried";
      var buttons = form.querySelector(".buttons");
      form.insertBefore(box, buttons.previousElementSibling);
    }
    box.textContent = "";
    var legend = document.createElement("legend");
    legend.textContent = "Attachments";
    box.appendChild(legend);
    list.forEach(function (a) {
      var label = document.createElement("label");
      var check = document.createElement("input");
      check.type = "checkbox"; check.name = "keep"; check.value = String(a.index); check.checked = true;
      label.appendChild(check);
      label.appendChild(document.createTextNode(" " + a.filename));
      box.appendChild(label);
    });
  }
})();
