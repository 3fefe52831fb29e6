"""The page in three browser engines behind one small driver: Chromium (Blink) through Python
Playwright, Firefox ESR (Gecko) through Marionette and WebKitGTK (WebKit, Safari's engine) through
Selenium's WebKitGTK driver under an X server of its own (Xvfb). Every browser comes from Debian
(`./dev` installs them); one that is missing fails with what to install, never a skip.

`evaluate` takes one JavaScript expression in the page (a promise is awaited), so a test reads the
same in every engine; `wait_until` polls one until it is truthy."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from icchat.bench._host import CHROMIUM

FIREFOX = Path("/usr/bin/firefox-esr")
WEBKIT_DRIVER = Path("/usr/bin/WebKitWebDriver")
# WebKitGTK's own browser, under the machine's multiarch directory (x86_64-linux-gnu, aarch64-...)
MINIBROWSER = next(Path("/usr/lib").glob("*/webkit2gtk-4.1/MiniBrowser"), Path("/usr/lib/webkit2gtk-4.1/MiniBrowser"))
XVFB = Path("/usr/bin/Xvfb")
ENGINES = ("chromium", "firefox", "webkit")
# What each engine needs and the Debian package that brings it.
NEEDS = {
    "chromium": {CHROMIUM: "chromium"},
    "firefox": {FIREFOX: "firefox-esr"},
    "webkit": {WEBKIT_DRIVER: "webkit2gtk-driver", MINIBROWSER: "webkit2gtk-driver", XVFB: "xvfb"},
}
POLL_SECONDS = 0.1
NARROW_TOOLBAR_CSS = "headerbar, headerbar *, toolbar, toolbar *, entry, button { min-width: 0; padding: 0; margin: 0; }\n"


class BrowserMissing(RuntimeError):
    pass


def require(engine: str) -> None:
    """Raise BrowserMissing naming the Debian packages to install when `engine` cannot run here."""
    missing = [path for path in NEEDS[engine] if not path.exists()]
    if missing:
        packages = " ".join(sorted({NEEDS[engine][path] for path in missing}))
        raise BrowserMissing(f"{engine} needs {', '.join(map(str, missing))}: `apt-get install {packages}` (./dev does)")


class Browser(ABC):
    """One browser window on one page, as the e2e tests drive it."""

    name: str  # one of ENGINES
    version: str  # the browser's own version string

    @abstractmethod
    def open(self, url: str) -> None: ...

    @abstractmethod
    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise's, once settled)."""

    @abstractmethod
    def type_and_enter(self, selector: str, text: str) -> None:
        """Type `text` into the (empty) field `selector` and press Enter, as a user does."""

    @abstractmethod
    def click(self, selector: str) -> None: ...

    @abstractmethod
    def set_viewport(self, width: int, height: int) -> None:
        """The page's viewport (window.innerWidth, innerHeight) at this size."""

    @abstractmethod
    def reload(self) -> None: ...

    @abstractmethod
    def screenshot(self, path: Path) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def wait_until(self, condition: str, timeout: float, what: str) -> Any:
        """The expression `condition`'s first truthy value, polled until `timeout` seconds pass
        (then TimeoutError saying `what` did not happen)."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(condition)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {what} did not happen within {timeout:.0f} s")
            time.sleep(POLL_SECONDS)
        return value


class PlaywrightChromium(Browser):
    """A context of its own in a running Playwright Chromium (Playwright's sync API runs one
    per thread: the tests' session browser)."""

    name = "chromium"

    def __init__(self, chromium: Any) -> None:
        self.version = chromium.version
        self._context = chromium.new_context()
        self._page = self._context.new_page()

    def open(self, url: str) -> None:
        self._page.goto(url)

    def evaluate(self, expression: str) -> Any:
        return self._page.evaluate(expression)

    def type_and_enter(self, selector: str, text: str) -> None:
        self._page.fill(selector, text)
        self._page.press(selector, "Enter")

    def click(self, selector: str) -> None:
        self._page.click(selector)

    def set_viewport(self, width: int, height: int) -> None:
        self._page.set_viewport_size({"width": width, "height": height})

    def reload(self) -> None:
        self._page.reload()

    def screenshot(self, path: Path) -> None:
        self._page.screenshot(path=str(path))

    def close(self) -> None:
        self._context.close()


class WebDriverWindow(Browser):
    """What the two WebDriver-style drivers share: scripts are function bodies, windows are sized
    from outside (the viewport is what is left inside the browser's own frame)."""

    @abstractmethod
    def _script(self, body: str) -> Any:
        """Run a function body in the page (a returned promise is awaited) and return its result."""

    @abstractmethod
    def _window_size(self, width: int, height: int) -> None: ...

    def evaluate(self, expression: str) -> Any:
        return self._script(f"return ({expression});")

    def click(self, selector: str) -> None:
        self._script(f"document.querySelector({json.dumps(selector)}).click();")

    def set_viewport(self, width: int, height: int) -> None:
        frame = self.evaluate("[outerWidth - innerWidth, outerHeight - innerHeight]")  # the browser's toolbar
        self._window_size(width + frame[0], height + frame[1])


class MarionetteFirefox(WebDriverWindow):
    name = "firefox"

    def __init__(self, logs: Path) -> None:
        from marionette_driver.marionette import Marionette

        # port 0: a free one; a fresh temporary profile, removed by close()
        self._client = Marionette(bin=str(FIREFOX), port=0, headless=True, startup_timeout=120,
                                  gecko_log=str(logs / "firefox.log"))
        try:
            self._client.start_session()
        except BaseException:
            self._client.cleanup()
            raise
        self.version = self._client.session_capabilities["browserVersion"]
        # Firefox's own frame keeps a window at least 500 px wide (browser-shared.css); a phone's
        # is narrower: the frame's limit goes, the page is untouched.
        with self._client.using_context(self._client.CONTEXT_CHROME):
            self._client.execute_script("document.documentElement.style.setProperty('--window-min-width', '0px')")

    def open(self, url: str) -> None:
        self._client.navigate(url)

    def _script(self, body: str) -> Any:
        # sandbox None: the page's own globals (no sandbox between the script and the page)
        return self._client.execute_script(body, sandbox=None)

    def type_and_enter(self, selector: str, text: str) -> None:
        from marionette_driver.by import By
        from marionette_driver.keys import Keys

        field = self._client.find_element(By.CSS_SELECTOR, selector)
        field.clear()
        field.send_keys(text + Keys.ENTER)

    def _window_size(self, width: int, height: int) -> None:
        self._client.set_window_rect(width=width, height=height)

    def reload(self) -> None:
        self._client.refresh()

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self._client.screenshot(full=False)))

    def close(self) -> None:
        self._client.cleanup()  # ends the session, stops Firefox, removes the temporary profile


@contextmanager
def xvfb() -> Iterator[str]:
    """An X server on a display it picks itself (-displayfd: no race for a free number), for the
    browser alone: its DISPLAY is returned, never set in this process."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen([str(XVFB), "-displayfd", str(write_end), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as announced:
            number = announced.readline().strip()
        if not number:
            raise RuntimeError(f"Xvfb did not start (exit status {server.poll()})")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


class SeleniumWebKit(WebDriverWindow):
    name = "webkit"

    def __init__(self, display: str, config_home: Path, logs: Path) -> None:
        from selenium import webdriver

        options = webdriver.WebKitGTKOptions()
        options.binary_location = str(MINIBROWSER)
        options.add_argument("--automation")
        # MiniBrowser's toolbar keeps its window at least 447 px wide; a GTK style of its own
        # (the browser's frame only: the page is drawn by WebKit) lets it be as narrow as a phone.
        (config_home / "gtk-3.0").mkdir()
        (config_home / "gtk-3.0" / "gtk.css").write_text(NARROW_TOOLBAR_CSS)
        env = {**os.environ, "DISPLAY": display, "XDG_CONFIG_HOME": str(config_home)}
        service = webdriver.WebKitGTKService(executable_path=str(WEBKIT_DRIVER), env=env,
                                             log_output=str(logs / "webkit.log"))
        self._driver = webdriver.WebKitGTK(options=options, service=service)
        self.version = self._driver.capabilities["browserVersion"]

    def open(self, url: str) -> None:
        self._driver.get(url)

    def _script(self, body: str) -> Any:
        return self._driver.execute_script(body)

    def type_and_enter(self, selector: str, text: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        field = self._driver.find_element(By.CSS_SELECTOR, selector)
        field.clear()
        field.send_keys(text + Keys.ENTER)

    def _window_size(self, width: int, height: int) -> None:
        self._driver.set_window_size(width, height)

    def reload(self) -> None:
        self._driver.refresh()

    def screenshot(self, path: Path) -> None:
        self._driver.save_screenshot(str(path))

    def close(self) -> None:
        self._driver.quit()


@contextmanager
def launch(engine: str, logs: Path, chromium: Any = None) -> Iterator[Browser]:
    """`with launch("firefox", logs) as browser:` one window of that engine (one of ENGINES),
    closed afterwards, and its X server with it. Firefox's and WebKitWebDriver's own logs go to
    logs/<engine>.log; "chromium" opens a context in `chromium`, a running Playwright browser."""
    require(engine)
    with ExitStack() as running:
        if engine == "webkit":
            config_home = Path(running.enter_context(tempfile.TemporaryDirectory(prefix="webkit-config-")))
            browser: Browser = SeleniumWebKit(running.enter_context(xvfb()), config_home, logs)
        elif engine == "firefox":
            browser = MarionetteFirefox(logs)
        else:
            browser = PlaywrightChromium(chromium)
        running.callback(browser.close)
        yield browser
