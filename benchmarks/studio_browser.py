"""The studio page in a real browser: Debian's Chromium, headless, driven
by Selenium; shared by tests/test_studio.py and studio_latency_benchmark.py.

  driver = open_chromium(downloads='/tmp/downloads')
  page = Page(driver)
  driver.get(url)
  page.press_go_and_wait(3)

Needs `apt-get install chromium chromium-driver` and `pip install selenium`
(the `test` extra).
"""

import os
import time

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'


def missing():
  """Why the browser cannot run here (a sentence), or None."""
  try:
    import selenium  # pylint: disable=import-outside-toplevel,unused-import
  except ImportError:
    return 'selenium is not installed (pip install -e ".[test]")'
  for path in (CHROMIUM, CHROMEDRIVER):
    if not os.path.exists(path):
      return (f'{path} is missing (apt-get install chromium '
              'chromium-driver)')
  return None


def open_chromium(downloads=None):
  """A headless Chromium that plays sound without a person's gesture (the
  page's Play is pressed by the script) and saves downloads in
  `downloads`."""
  # pylint: disable=import-outside-toplevel
  from selenium import webdriver
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                   '--window-size=1400,1100', '--disable-dev-shm-usage',
                   '--autoplay-policy=no-user-gesture-required'):
    options.add_argument(argument)
  if downloads:
    options.add_experimental_option('prefs', {
        'download.default_directory': str(downloads),
        'download.prompt_for_download': False})
  return webdriver.Chrome(
      service=webdriver.ChromeService(executable_path=CHROMEDRIVER),
      options=options)


class Page:
  """The studio page as a person uses it: find, type, choose, press."""

  def __init__(self, driver, screenshots=None):
    # pylint: disable=import-outside-toplevel
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    self.driver = driver
    self.screenshots = screenshots
    self._by = By
    self._select = Select

  def wait(self, condition, seconds=240, every=0.05):
    """Waits until `condition()` is true; raises TimeoutError after
    `seconds`, naming the page's error line if it shows one."""
    deadline = time.monotonic() + seconds
    while True:
      value = condition()
      if value:
        return value
      if time.monotonic() > deadline:
        raise TimeoutError(f'the page did not get there in {seconds} s '
                           f'(its error line: {self.error()!r})')
      time.sleep(every)

  def find(self, css, within=None):
    return (within or self.driver).find_element(self._by.CSS_SELECTOR, css)

  def all(self, css):
    return self.driver.find_elements(self._by.CSS_SELECTOR, css)

  def type(self, css, text):
    element = self.find(css)
    element.clear()
    element.send_keys(str(text))

  def choose(self, css, value):
    self._select(self.find(css)).select_by_value(value)

  def error(self):
    return self.find('#error').text

  def outputs(self):
    return self.all('article.output')

  def press(self, output_index, css):
    """Presses a button (or link) of the output card at `output_index`."""
    self.find(css, self.outputs()[output_index]).click()

  def press_go_and_wait(self, expected_outputs, seconds=240):
    """Presses the main button and waits for `expected_outputs` cards (or
    an error, which fails)."""
    self.find('#go').click()
    self.wait(lambda: (self.find('#go').is_enabled()
                       and len(self.outputs()) == expected_outputs)
              or self.error(), seconds)
    if self.error():
      raise AssertionError(f'the page says: {self.error()}')

  def playing_seconds(self):
    return self.state("document.getElementById('player').currentTime")

  def state(self, expression):
    return self.driver.execute_script(f'return {expression};')

  def shot(self, name):
    if self.screenshots:
      os.makedirs(self.screenshots, exist_ok=True)
      self.driver.save_screenshot(os.path.join(self.screenshots, f'{name}.png'))
