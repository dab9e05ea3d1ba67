"""Airflow's UI driven in headless Chromium as a user clicks through it: sign in, open a
DAG's trigger form, read it, fill it, trigger."""

import json
import time
from pathlib import Path

from browser import Browser

# The trigger form: the page has other dialogs too (its menus).
FORM = (
    "[...document.querySelectorAll('[role=dialog]')].find(d => d.innerText.includes('Trigger Dag'))"
)


class AirflowUi:
    def __init__(self, browser: Browser, url: str):
        self.browser, self.url = browser, url

    def _js(self, expression: str):
        return self.browser.evaluate(expression)

    def _wait_for(self, expression: str, what: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not (found := self._js(f"!!({expression})")):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Airflow's UI did not show {what} within {timeout:.0f}s")
            time.sleep(0.3)
        return found

    def _type(self, field: str, text: str) -> None:
        """Replace the text of `field` (an expression), through the keyboard's input events:
        React's state follows those, not a value set from a script."""
        self._js(f"{field}.select()")
        self.browser.call("Input.insertText", text=text)

    def _click(self, scope: str, label: str) -> None:
        clicked = self._js(
            f"(() => {{ const b = [...{scope}.querySelectorAll('button')]"
            f".find(b => b.innerText.trim() === {json.dumps(label)}); b?.click(); return !!b; }})()"
        )
        assert clicked, f"no button {label!r} in {scope}"

    def sign_in(self, username: str, password: str) -> None:
        self.browser.open(f"{self.url}/auth/login/", settle_seconds=0)
        self._wait_for("document.querySelector('input[name=password]')", "the sign-in form")
        self._type("document.querySelector('input[name=username]')", username)
        self._type("document.querySelector('input[name=password]')", password)
        self._click("document", "Sign in")
        self._wait_for("!location.pathname.startsWith('/auth/')", "the home page")

    def open_trigger_form(self, dag_id: str) -> None:
        self.browser.open(f"{self.url}/dags/{dag_id}", settle_seconds=0)
        self._wait_for(
            "[...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Trigger')",
            "the Trigger button",
        )
        self._click("document", "Trigger")
        self._wait_for(f"{FORM}?.innerText.includes('Run Parameters')", "the trigger form")

    def form_text(self) -> str:
        return self._js(f"{FORM}.innerText")

    def unpause_on_trigger_is_checked(self) -> bool:
        return self._js(f"{FORM}.querySelector('input[type=checkbox]').checked")

    def fill_param(self, name: str, text: str) -> None:
        self._type(f"{FORM}.querySelector('[name=element_{name}]')", text)

    def trigger(self, screenshot: Path) -> None:
        self.browser.screenshot(screenshot)
        self._click(FORM, "Trigger")
        self._wait_for(f"!{FORM}", "the form closing")
