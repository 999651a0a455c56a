"""Who is at the bench: the first-start administrator, the login, and the idle lock.

Password checks (scrypt, ~50 ms, plus a database read) run on the query thread, never on the
GUI thread. The idle lock hides every panel before asking for the password, so a walk-away
screen shows no patient data. Dialogs are opened modeless-modal (`open()`) and awaited, because
a nested `exec()` loop would re-enter the asyncio loop that qasync runs on the same thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from benchlink.gui.queries import QueryRunner


def _password_edit(parent: QWidget, name: str, accessible: str) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setObjectName(name)
    edit.setAccessibleName(accessible)
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class _CredentialDialog(QDialog):
    def __init__(self, title: str, intro: str, runner: QueryRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.runner = runner
        self.intro = QLabel(intro, self)
        self.intro.setWordWrap(True)
        self.username = QLineEdit(self)
        self.username.setObjectName("username")
        self.username.setAccessibleName("User name")
        self.password = _password_edit(self, "password", "Password")
        self.error = QLabel("", self)
        self.error.setObjectName("authError")
        self.error.setAccessibleName("Sign-in problem")
        self.error.setStyleSheet("color: #d0342c;")
        self.error.setWordWrap(True)
        self.form = QFormLayout()
        self.form.addRow("&User name", self.username)
        self.form.addRow("&Password", self.password)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self.submit)
        self.body = QVBoxLayout(self)
        self.body.addWidget(self.intro)
        self.body.addLayout(self.form)
        self.body.addWidget(self.error)
        self.body.addWidget(self.buttons)
        self.value: Any = None

    def submit(self) -> None:
        work = self.work()
        if work is not None:
            self._run(work)

    def work(self) -> Callable[[], Any] | None:
        """What OK does, off the GUI thread; None when the form is not ready."""
        return None

    def _run(self, work: Callable[[], Any]) -> None:
        self.ok_button.setEnabled(False)
        self.error.setText("Checking…")
        self.runner.submit(work, self._succeeded, self._failed)

    def _succeeded(self, value: Any) -> None:
        self.value = value
        self.error.setText("")
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.ok_button.setEnabled(True)
        self.error.setText(str(exc))
        self.password.selectAll()
        self.password.setFocus()


class LoginDialog(_CredentialDialog):
    """On success `value` is the runtime Session."""

    def __init__(self, auth: Any, runner: QueryRunner, parent: QWidget | None = None) -> None:
        super().__init__("Sign in to Benchlink", "Sign in with your Benchlink user name and password.", runner,
                         parent)
        self.setObjectName("loginDialog")
        self.auth = auth
        self.ok_button.setText("Sign &in")

    def work(self) -> Callable[[], Any] | None:
        auth, name, password = self.auth, self.username.text(), self.password.text()
        return lambda: auth.authenticate(name, password)


class CreateAdminDialog(_CredentialDialog):
    """The very first start: whoever installs Benchlink becomes its administrator.

    "Not now" runs without users (every action is then recorded as `system`); the dialog comes
    back on the next start until an administrator exists.
    """

    def __init__(self, auth: Any, runner: QueryRunner, parent: QWidget | None = None) -> None:
        super().__init__(
            "Create the administrator",
            "No users exist yet. Create the administrator account: it can add operators and "
            "supervisors, edit mappings and devices, and read the audit trail.",
            runner, parent,
        )
        self.setObjectName("createAdminDialog")
        self.auth = auth
        self.repeat = _password_edit(self, "passwordRepeat", "Repeat password")
        self.form.addRow("&Repeat password", self.repeat)
        self.later = self.buttons.addButton("Not now", QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.rejected.connect(self.reject)
        self.ok_button.setText("&Create")
        self.rules = QLabel("", self)
        self.rules.setObjectName("passwordRules")
        self.rules.setWordWrap(True)
        self.body.insertWidget(2, self.rules)
        for edit in (self.username, self.password, self.repeat):
            edit.textChanged.connect(self.check)
        self.check()

    def problems(self) -> list[str]:
        problems = list(self.auth.policy.password.problems(self.password.text(), self.username.text().strip()))
        if not self.username.text().strip():
            problems.insert(0, "enter a user name")
        if self.password.text() != self.repeat.text():
            problems.append("the two passwords differ")
        return problems

    def check(self, *_: Any) -> None:
        problems = self.problems()
        self.rules.setText("" if not problems else "To continue: " + "; ".join(problems) + ".")
        self.ok_button.setEnabled(not problems)

    def work(self) -> Callable[[], Any] | None:
        if self.problems():
            return None
        auth, name, password = self.auth, self.username.text(), self.password.text()

        def create() -> Any:
            auth.create_first_admin(name, password)
            return auth.authenticate(name, password)

        return create


class UnlockDialog(_CredentialDialog):
    def __init__(self, session: Any, runner: QueryRunner, parent: QWidget | None = None) -> None:
        super().__init__("Benchlink is locked",
                         f"The session of {session.username} was locked after inactivity. "
                         "Enter the password to continue.", runner, parent)
        self.setObjectName("unlockDialog")
        self.session = session
        self.username.setText(session.username)
        self.username.setReadOnly(True)
        self.ok_button.setText("&Unlock")
        self.setWindowFlag(Qt.WindowType.WindowCloseButtonHint, False)

    def work(self) -> Callable[[], Any] | None:
        session, password = self.session, self.password.text()
        return lambda: session.unlock(password)

    def reject(self) -> None:
        """Esc must not get past the lock."""


async def run_dialog(dialog: QDialog) -> int:
    """Show `dialog` window-modal and wait for it without a nested event loop."""
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(code: int) -> None:
        if not done.done():
            done.set_result(code)

    dialog.finished.connect(finished)
    dialog.open()
    return await done


class IdleWatch(QObject):
    """Touches the session on keyboard and mouse input; says when idle time has run out."""

    locked = Signal()
    _INPUT = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel,
                        QEvent.Type.MouseMove})

    def __init__(self, session: Any, *, check_ms: int = 5000, parent: Any = None) -> None:
        super().__init__(parent)
        self.session = session
        self.paused = False
        self.timer = QTimer(self)
        self.timer.setInterval(check_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.paused and event.type() in self._INPUT:
            self.session.touch()
        return False

    def check(self) -> None:
        if not self.paused and self.session.locked():
            self.paused = True
            self.locked.emit()
