"""The headless-browser helper sees what a reader would: errors, failed loads, broken images."""

import base64
import io

from PIL import Image

from browser import open_page


def png_data_uri() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (7, 5), "teal").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def images(page) -> dict:
    return page.evaluate("Object.fromEntries([...document.images].map((i) => [i.id, [i.complete, i.naturalWidth, i.naturalHeight]]))")


def test_a_clean_page_has_no_problems(tmp_path):
    html = tmp_path / "clean.html"
    html.write_text(f'<html><body><img id="figure" src="{png_data_uri()}"><script>console.log("fine")</script></body></html>')
    with open_page(html) as page:
        assert images(page) == {"figure": [True, 7, 5]}
        page.settle()
        assert page.problems == []


def test_every_kind_of_problem_is_reported(tmp_path):
    html = tmp_path / "broken.html"
    html.write_text(
        '<html><body><img id="missing" src="missing.png"><img id="online" src="https://example.org/figure.png">'
        '<img id="corrupt" src="data:image/png;base64,AAAA">'
        '<script>console.error("a console error"); Promise.reject(new Error("a rejected promise"));'
        'setTimeout(() => { throw new Error("an uncaught exception"); }, 10);</script></body></html>'
    )
    with open_page(html) as page:
        assert {name: state[1] for name, state in images(page).items()} == {"missing": 0, "online": 0, "corrupt": 0}
        page.settle()
        problems = "\n".join(page.problems)
    assert "console.error: a console error" in problems
    assert "Error: a rejected promise" in problems and "Error: an uncaught exception" in problems
    assert "ERR_FILE_NOT_FOUND" in problems and "missing.png" in problems
    # The page is offline: no request leaves the machine, and a page that tries is told so.
    assert "ERR_NAME_NOT_RESOLVED" in problems and "https://example.org/figure.png" in problems
