/* The date picker of the Painel in Brazilian Portuguese.
 *
 * Dash 4's DatePickerRange formats with date-fns and takes its locale from
 * window.dateFns.locale (the first one loaded when none matches the browser's
 * language): this is date-fns's Locale shape with pt-BR month and weekday names,
 * weeks from Monday and dd/MM/yyyy, written here rather than loaded from a CDN. */
(function () {
  "use strict";
  var months = {
    narrow: ["J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"],
    abbreviated: ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out",
      "nov", "dez"],
    wide: ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
      "setembro", "outubro", "novembro", "dezembro"]
  };
  var days = {
    narrow: ["D", "S", "T", "Q", "Q", "S", "S"],
    short: ["dom", "seg", "ter", "qua", "qui", "sex", "sáb"],
    abbreviated: ["dom", "seg", "ter", "qua", "qui", "sex", "sáb"],
    wide: ["domingo", "segunda-feira", "terça-feira", "quarta-feira", "quinta-feira",
      "sexta-feira", "sábado"]
  };
  function pick(values) {
    return function (index, options) {
      var width = (options && options.width) || "wide";
      return (values[width] || values.wide)[index];
    };
  }
  function fixed(text) {
    return function () { return text; };
  }
  function matcher(list, size) {
    return function (text) {
      var lowered = String(text).toLowerCase();
      for (var i = 0; i < list.length; i += 1) {
        if (lowered.indexOf(list[i].toLowerCase()) === 0) {
          return {value: i % size, rest: String(text).slice(list[i].length)};
        }
      }
      return null;
    };
  }
  var ptBR = {
    code: "pt-BR",
    formatDistance: function (token, count) { return String(count); },
    formatRelative: fixed("P"),
    formatLong: {
      date: fixed("dd/MM/yyyy"),
      time: fixed("HH:mm"),
      dateTime: fixed("{{date}} {{time}}")
    },
    localize: {
      ordinalNumber: function (number) { return number + "º"; },
      era: pick({narrow: ["a.C.", "d.C."], abbreviated: ["a.C.", "d.C."],
        wide: ["antes de Cristo", "depois de Cristo"]}),
      quarter: function (quarter) { return quarter + "º trimestre"; },
      month: pick(months),
      day: pick(days),
      dayPeriod: function (period) { return period === "am" ? "manhã" : "tarde"; }
    },
    match: {
      ordinalNumber: function (text) {
        var found = /^(\d+)º?/.exec(text);
        return found ? {value: parseInt(found[1], 10), rest: text.slice(found[0].length)}
          : null;
      },
      era: matcher(["a.C.", "d.C."], 2),
      quarter: function () { return null; },
      month: matcher(months.wide.concat(months.abbreviated), 12),
      day: matcher(days.wide.concat(days.abbreviated), 7),
      dayPeriod: function () { return null; }
    },
    options: {weekStartsOn: 1, firstWeekContainsDate: 1}
  };
  window.dateFns = window.dateFns || {};
  window.dateFns.locale = window.dateFns.locale || {};
  window.dateFns.locale.ptBR = ptBR;
}());

/* The calendar's few screen-reader labels have no prop in Dash 4: they are put in
 * Portuguese as the calendar draws them (text only, on a fixed list of labels). */
(function () {
  "use strict";
  var labels = {
    "Clear Dates": "Limpar datas", "Clear date": "Limpar data",
    "Close calendar": "Fechar calendário", "Previous month": "Mês anterior",
    "Next month": "Próximo mês"
  };
  function translate(root) {
    if (!root.querySelectorAll) { return; }
    var found = root.querySelectorAll("[aria-label]");
    for (var i = 0; i < found.length; i += 1) {
      var text = labels[found[i].getAttribute("aria-label")];
      if (text) { found[i].setAttribute("aria-label", text); }
    }
  }
  function start() {
    translate(document.body);
    new MutationObserver(function (changes) {
      for (var i = 0; i < changes.length; i += 1) {
        var target = changes[i].target;
        translate(target.nodeType === 1 ? target : document.body);
      }
    }).observe(document.body, {childList: true, subtree: true, attributes: true,
      attributeFilter: ["aria-label"]});
  }
  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
}());
