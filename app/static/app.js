/* Gestor de Chamados: small behaviour shared by every Flask page (no inline scripts:
   the pages run under a nonce-based CSP). Loaded after FAB's ab.js and before the
   document is ready, so the select2 defaults below apply to FAB's widgets. */
(function () {
  "use strict";
  if (window.jQuery && jQuery.fn.select2 && jQuery.fn.select2.defaults) {
    // select2 4.0 speaks English by default ("Remove all items", "No results found").
    jQuery.fn.select2.defaults.set("language", {
      errorLoading: function () { return "Não foi possível carregar os resultados."; },
      inputTooLong: function (a) { return "Apague " + (a.input.length - a.maximum) + " caractere(s)."; },
      inputTooShort: function (a) { return "Digite " + (a.minimum - a.input.length) + " ou mais caracteres."; },
      loadingMore: function () { return "Carregando mais resultados…"; },
      maximumSelected: function (a) { return "Você só pode selecionar " + a.maximum + " item(ns)."; },
      noResults: function () { return "Nenhum resultado encontrado."; },
      searching: function () { return "Buscando…"; },
      removeAllItems: function () { return "Remover todos"; },
      removeItem: function () { return "Remover"; },
      search: function () { return "Buscar"; }
    });
  }
})();

/* select2 after FAB's ab.js has built it: a multiple select gets no "remove all" cross
   inside its <ul> (invalid list markup for screen readers), and its search box gets the
   field's label. */
jQuery(function ($) {
  if (!$.fn.select2) { return; }
  function labelSearch(select) {
    var id = select.attr("id");
    var label = id ? $("label[for='" + id + "']").first().text().replace("*", "").trim() : "";
    var box = select.next(".select2-container").find(".select2-search__field");
    box.attr("aria-label", label ? "Buscar " + label.toLowerCase() : "Buscar");
  }
  $("select.my_select2[multiple]").each(function () {
    var select = $(this);
    if (select.data("select2")) { select.select2("destroy"); }
    select.select2({placeholder: select.attr("data-placeholder") || "Selecione",
                    allowClear: false, theme: "bootstrap", width: "100%"});
    labelSearch(select);
    select.on("change select2:open select2:close", function () { labelSearch(select); });
  });
  /* Delete buttons of the administrator's lists: confirm in the page's modal. */
  var pending = null;
  $(document).on("submit", "form.js-confirm-delete", function (event) {
    if (pending === this) { return; }
    event.preventDefault();
    pending = this;
    var modal = $("#modal-confirm");
    if (!modal.length || !modal.modal) {
      if (window.confirm($(this).data("confirm"))) { this.submit(); }
      return;
    }
    modal.find(".modal-body").text($(this).data("confirm"));
    modal.modal("show");
  });
  $(document).on("click", "#modal-confirm-ok", function (event) {
    if (pending) {
      event.preventDefault();
      var form = pending;
      $("#modal-confirm").modal("hide");
      form.submit();
    }
  });
  $("#modal-confirm").on("hidden.bs.modal", function () { pending = null; });
});

/* Phones: the ticket lists show the search box; "Mais filtros" opens the rest. */
jQuery(function ($) {
  $(document).on("click", "#filters-more", function () {
    var form = $("#ticket-filters").toggleClass("filters-open");
    $(this).attr("aria-expanded", form.hasClass("filters-open") ? "true" : "false")
      .text(form.hasClass("filters-open") ? "Menos filtros" : "Mais filtros");
  });
});
