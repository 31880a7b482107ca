// Shows and hides a survey's conditional questions as the answers change. The service decides
// which questions the answers so far call for, as it does when the form is sent without
// JavaScript: this asks it (POST <form data-visible>) and shows those, hiding and disabling the
// others, so that their answers are not sent, and numbers the questions shown 1, 2, 3….
(function () {
  'use strict';
  var form = document.querySelector('form[data-visible]');
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var shown = form.querySelector('input[name="shown"]');
  var latest = 0;
  function apply(visible) {
    var ask = {};
    var n = 0;
    visible.forEach(function (id) { ask[id] = true; });
    form.querySelectorAll('[data-question]').forEach(function (el) {
      var show = ask[el.getAttribute('data-question')] === true;
      el.hidden = !show;
      el.querySelectorAll('input, textarea').forEach(function (input) { input.disabled = !show; });
      // The questions shown are numbered 1, 2, 3… as the service numbers them.
      if (show) {
        n++;
      }
      el.querySelectorAll('.number').forEach(function (number) { number.textContent = show ? n + '.' : ''; });
    });
    shown.value = visible.join(' ');
  }
  function update() {
    var mine = ++latest;
    fetch(form.getAttribute('data-visible'), {
      method: 'POST',
      body: new URLSearchParams(new FormData(form)),
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json' }
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (answer) {
      if (answer && mine === latest) {
        apply(answer.visible || []);
      }
    }).catch(function () {
      // Offline: the form still works; the service asks for anything missing when it is sent.
    });
  }
  form.addEventListener('change', update);
}());
