"""The administrator's CRUD screens dressed like the portals (issue 14).

``ScreenModelView`` is a FAB ``ModelView`` with:

- page templates with breadcrumbs, a page intro and a text button ("Novo setor")
  (``app/templates/admin/``), lists as the ticket lists look, cards on phones, empty
  states that say what to do next ("Criar o primeiro setor");
- forms that keep everything typed when a rule refuses the save (FAB redirected to the
  list and threw the form away), the message shown at the field it is about, and
  required fields marked;
- the wording of each screen in one ``Screen`` (singular, plural, gender, intro).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, g, request
from flask_appbuilder import ModelView
from flask_appbuilder.urltools import get_filter_args
from flask_appbuilder.widgets import FormWidget, ListWidget, ShowWidget

from app.extensions import db


@dataclass(frozen=True)
class Screen:
    """How a screen names its rows: ``one``/``many`` ("setor"/"setores"), the article
    of ``one`` ("o"/"a"), the menu section, the page intro, the empty list's sentence,
    and the Font Awesome icon of the empty state."""

    one: str
    many: str
    article: str
    section: str
    intro: str
    empty: str
    icon: str = "fa-folder-open-o"
    required: tuple[str, ...] = ()

    @property
    def new_label(self) -> str:
        return f"{'Nova' if self.article == 'a' else 'Novo'} {self.one}"


class ScreenListWidget(ListWidget):
    template = "admin/list_widget.html"


class ScreenFormWidget(FormWidget):
    template = "admin/form_widget.html"


class ScreenShowWidget(ShowWidget):
    template = "admin/show_widget.html"


class FormRefused(Exception):
    """A rule refused the save: ``message`` for the user, ``field`` the form field it is
    about (or None)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ScreenModelView(ModelView):
    screen: Screen

    list_template = "admin/list.html"
    add_template = "admin/add.html"
    edit_template = "admin/edit.html"
    show_template = "admin/show.html"
    list_widget = ScreenListWidget
    add_widget = edit_widget = ScreenFormWidget
    show_widget = ScreenShowWidget

    def list_notice(self) -> dict | None:
        """Hook: a warning above the list ({"text", "url", "link"}), or None."""
        return None

    def render_template(self, template, **kwargs):
        if template == self.list_template:
            kwargs.setdefault("notice", self.list_notice())
        kwargs.setdefault("screen", self.screen)
        kwargs.setdefault("view_name", self.__class__.__name__)
        return super().render_template(template, **kwargs)

    def _get_list_widget(self, *args, **kwargs):
        kwargs.setdefault("screen", self.screen)
        return super()._get_list_widget(*args, **kwargs)

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        self._blank_choices(form)
        widgets = super()._get_add_widget(form, exclude_cols=exclude_cols, widgets=widgets)
        widgets["add"].template_args.update(self._form_args())
        return widgets

    def _get_edit_widget(self, form, exclude_cols=None, widgets=None):
        self._blank_choices(form)
        widgets = super()._get_edit_widget(form, exclude_cols=exclude_cols, widgets=widgets)
        widgets["edit"].template_args.update(self._form_args())
        return widgets

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        widgets = super()._get_show_widget(pk, item, widgets=widgets, actions=actions,
                                           show_fieldsets=show_fieldsets)
        widgets["show"].template_args.update(self._form_args())
        return widgets

    def _form_args(self) -> dict:
        return {"screen": self.screen, "view_name": self.__class__.__name__}

    # --- blank choices: WTForms prints an empty label as its value, FAB's "__None" ------

    blank_texts: dict = {}

    def _blank_choices(self, form) -> None:
        from flask_appbuilder.fields import QuerySelectField

        for field in form:
            if isinstance(field, QuerySelectField) and field.allow_blank \
                    and not field.blank_text:
                field.blank_text = self.blank_texts.get(field.name, "Nenhum")

    def _get_search_widget(self, form=None, exclude_cols=None, widgets=None):
        if form is not None:
            self._blank_choices(form)
        return super()._get_search_widget(form=form, exclude_cols=exclude_cols,
                                          widgets=widgets)

    # --- forms that keep what was typed -------------------------------------------------

    def prepare_form(self, form, creating: bool) -> None:
        """Hook: adjust a fresh form (blank choices, values from the URL)."""

    def _refuse(self, base_form, error: Exception, creating: bool):
        """The form again, from what was posted (``process_form`` may have removed
        fields such as the password from the validated one), the message flashed and
        shown under its field."""
        db.session.rollback()
        message = getattr(error, "message", None) or str(error)
        field = getattr(error, "field", None)
        form = base_form.refresh(request.form)
        self.prepare_form(form, creating=creating)
        if field and field in form:
            form[field].errors = [message]
        flash(message, "danger")
        return form

    def _add(self):
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        self.prepare_form(form, creating=True)
        if request.method == "POST":
            self._fill_form_exclude_cols(exclude_cols, form)
            if form.validate():
                self.process_form(form, True)
                item = self.datamodel.obj()
                try:
                    with db.session.no_autoflush:   # the checks query before the save
                        form.populate_obj(item)
                        self.pre_add(item)
                except Exception as error:
                    form = self._refuse(self.add_form, error, creating=True)
                else:
                    try:
                        self.datamodel.add(item)
                    except Exception:
                        db.session.rollback()
                        flash("Não foi possível salvar agora. Tente de novo.", "danger")
                    else:
                        self.post_add(item)
                        flash(self.screen_saved(item, created=True), "success")
                        return None
            return self._get_add_widget(form=form, exclude_cols=exclude_cols)
        self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def _edit(self, pk):
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        pk = self.datamodel.get_pk_value(item)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            self.prepare_form(form, creating=False)
            self._fill_form_exclude_cols(exclude_cols, form)
            form._id = pk
            if form.validate():
                self.process_form(form, False)
                try:
                    with db.session.no_autoflush:   # the checks query before the save
                        form.populate_obj(item)
                        self.pre_update(item)
                except Exception as error:
                    form = self._refuse(self.edit_form, error, creating=False)
                else:
                    try:
                        self.datamodel.edit(item)
                    except Exception:
                        db.session.rollback()
                        flash("Não foi possível salvar agora. Tente de novo.", "danger")
                    else:
                        self.post_update(item)
                        flash(self.screen_saved(item, created=False), "success")
                        return None
            g.screen_item_pk = pk
            return self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        form = self.edit_form.refresh(obj=item)
        self.prepare_form(form, creating=False)
        self.prefill_form(form, pk)
        self.update_redirect()
        return self._get_edit_widget(form=form, exclude_cols=exclude_cols)

    def screen_saved(self, item, created: bool) -> str:
        s = self.screen
        done = ("criada" if s.article == "a" else "criado") if created else (
            "salva" if s.article == "a" else "salvo")
        name = getattr(item, "name", None) or getattr(item, "title", None) or ""
        return f"{s.one.capitalize()} “{name}” {done}." if name else \
            f"{s.one.capitalize()} {done}."
