"""adpilot.markup: the text a reader sees in WordPress HTML, and the markup in it that runs code."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from adpilot.markup import ActiveContent, Segment, active_content, render


def body(markup: str) -> str:
    return render(markup)[0].text


def attribute_texts(markup: str) -> list[tuple[str, str]]:
    return [(segment.source, segment.text) for segment in render(markup)[1:]]


def kinds(markup: str) -> list[str]:
    return [finding.kind for finding in active_content(markup)]


def assert_origins_point_home(markup: str, segments: list[Segment]) -> None:
    """Each character comes from itself, from the "&" of a reference, or (a space) from a tag's "<"."""
    for segment in segments:
        assert len(segment.origin) == len(segment.text)
        for char, at in zip(segment.text, segment.origin, strict=True):
            assert 0 <= at < len(markup)
            source = markup[at]
            assert source == char or source == "&" or (char == " " and source == "<"), (markup, segment)


# --- render: the body text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("gra<span>tis</span>", "gratis"),
        ("Schn&auml;pp&shy;chen", "Schnäpp\xadchen"),
        ("be<!-- x -->ste", "beste"),
        ("<b>kos</b><i>ten</i><em>los</em>", "kostenlos"),
        ('g<a href="/x">ra</a>t<strong>i</strong><wbr>s', "gratis"),
        ("<p>Hallo</p><p>Welt</p>", "Hallo Welt"),
        ("eins<br>zwei<br/>drei<hr>vier", "eins zwei drei vier"),
        ("<ul><li>a</li><li>b</li></ul>", "a b"),
        ("<table><tr><td>1</td><td>2</td></tr></table>", "1 2"),
        ("<h2>Titel</h2>Text", "Titel Text"),
        ("a<unknown-tag>b</unknown-tag>", "ab"),  # custom elements are inline, as in browsers
        ("gra<foo>tis</foo>", "gratis"),
        ("a<img src=x>b", "a b"),
        ("<div><p><span>nur</span></p></div>", "nur"),  # no leading or trailing space
        ("<p>a </p><p>b</p>", "a b"),  # no second space where the text has one
        ("<p>a</p>\n<p>b</p>", "a\nb"),
        ("3 < 5 und 7 > 6", "3 < 5 und 7 > 6"),
        ("a <= b, x<1", "a <= b, x<1"),
        ("Ende<b", "Ende"),  # a tag cut off by the end is dropped
        ('Ende<img alt="x', "Ende"),
        ("Ende</", "Ende</"),
        ("a</>b", "ab"),
        ("a<>b", "a<>b"),
    ],
)
def test_body_text_is_what_a_reader_sees(markup, text):
    segments = render(markup)
    assert segments[0].source == "body"
    assert segments[0].text == text
    assert_origins_point_home(markup, segments)


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<!-- wp:paragraph --><p>Text</p><!-- /wp:paragraph -->", "Text"),
        ('<!-- wp:image {"id":12,"sizeSlug":"large"} -->Bild', "Bild"),
        ("a<!-- unterminated comment", "a"),
        ("a<!-->b", "ab"),
        ("a<!--->b", "ab"),
        ("a<!-- x --!>b", "ab"),
        ("a<!-- <p>not text</p> -->b", "ab"),
        ("<!DOCTYPE html>a", "a"),
        ("a<![CDATA[hidden]]>b", "ab"),
        ("a<?php echo 1; ?>b", "ab"),
        ("a<?xml version='1.0'?>b", "ab"),
        ("a</ weird>b", "ab"),
    ],
)
def test_comments_and_declarations_are_not_text(markup, text):
    assert body(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<script>var gratis = 1;</script>ok", "ok"),
        ("<script>if (a<b) {}</script>ok", "ok"),
        ("<SCRIPT type=text/javascript>x</Script >ok", "ok"),
        ("<style>p{color:red}</style>ok", "ok"),
        ("<template><p>gratis</p></template>ok", "ok"),
        ("<template><template>x</template>y</template>ok", "ok"),
        ("<script>unclosed gratis", ""),
        ("<noscript>Bitte JavaScript</noscript>", "Bitte JavaScript"),
        ("<textarea>gratis</textarea>", "gratis"),
        ("<textarea><b>x</b> &amp; y</textarea>", "<b>x</b> & y"),  # RCDATA: references, no tags
        ("<xmp><b>x</b>&amp;</xmp>", "<b>x</b>&amp;"),  # shown as written
    ],
)
def test_script_style_and_template_content_is_not_text(markup, text):
    segments = render(markup)
    assert segments[0].text == text
    assert_origins_point_home(markup, segments)


def test_template_attributes_are_not_text_either():
    assert attribute_texts('<template><img alt="inert"></template><img alt="shown">') == [("alt", "shown")]


@pytest.mark.parametrize(
    "markup",
    [
        "&amp; &lt; &gt; &quot; &#39; &apos;",
        "&#228; &#xE4; &#XE4; &#x110000; &#0; &#128;",
        "&nbsp;&shy;&euro;&hellip;",
        "&notit; &amp &ampx &copy2024 &unknown; & alone",
        "&NotEqualTilde; &fjlig;",
    ],
)
def test_text_references_decode_exactly_like_html_unescape(markup):
    segments = render(markup)
    assert segments[0].text == html.unescape(markup)
    assert_origins_point_home(markup, segments)


def test_a_reference_maps_to_its_ampersand_and_a_separating_space_to_its_tag():
    markup = "a&auml;b<p>c"
    segment = render(markup)[0]
    assert segment.text == "aäb c"
    assert segment.origin == (0, 1, 7, 8, 11)
    assert markup[segment.origin[1]] == "&"
    assert markup[segment.origin[3]] == "<"


def test_nbsp_is_kept_for_the_callers_normaliser():
    assert body("Preis&nbsp;ab") == "Preis\xa0ab"


def test_a_reference_split_by_a_tag_is_not_decoded():
    assert body("&au<b></b>ml;") == "&auml;"


def test_a_legacy_reference_leaves_the_rest_of_its_word_undecoded():
    markup = "x&notit;"
    segment = render(markup)[0]
    assert segment.text == "x¬it;"
    assert segment.origin == (0, 1, 5, 6, 7)


def test_empty_and_text_only_markup():
    assert render("") == [Segment("body", "", ())]
    assert render("plain") == [Segment("body", "plain", (0, 1, 2, 3, 4))]


# --- render: attribute text ---------------------------------------------------------------------


def test_alt_title_and_aria_label_follow_the_body_in_document_order():
    markup = '<a title="Eins" href="/x"><img alt=\'Zwei\' src=y></a><button aria-label=Drei>x</button>'
    assert [segment.source for segment in render(markup)] == ["body", "title", "alt", "aria-label"]
    assert attribute_texts(markup) == [("title", "Eins"), ("alt", "Zwei"), ("aria-label", "Drei")]


def test_a_word_only_in_an_alt_text_is_found():
    markup = '<p>Wanderschuh</p><img src="/a.jpg" alt="100 % gratis">'
    assert body(markup) == "Wanderschuh"
    assert attribute_texts(markup) == [("alt", "100 % gratis")]


def test_attribute_origin_points_into_the_value():
    markup = '<img ALT = "gr&auml;tis" TITLE=Preis>'
    segments = render(markup)
    alt, title = segments[1], segments[2]
    assert alt.text == "grätis"
    assert alt.origin == (12, 13, 14, 20, 21, 22)
    assert title.text == "Preis"
    assert markup[title.origin[0] : title.origin[-1] + 1] == "Preis"
    assert_origins_point_home(markup, segments)


def test_attribute_values_decode_as_a_browser_decodes_them():
    # In a value, a reference without ";" stays as written when a letter, digit or "=" follows it.
    assert attribute_texts('<a title="x&copy=1&amp;b&ampc &copy 2">') == [("title", "x&copy=1&b&ampc © 2")]


def test_other_attributes_and_valueless_ones():
    markup = '<img src="gratis.jpg" data-alt="gratis" alt>'
    assert attribute_texts(markup) == [("alt", "")]
    assert render(markup)[1].origin == ()


def test_attributes_of_a_tag_cut_off_by_the_end_are_not_text():
    assert attribute_texts('<img alt="unfinished') == []
    assert attribute_texts('<img alt="done" ') == []


def test_quoted_greater_than_does_not_end_a_tag():
    assert render('<img alt="a > b">c') == [Segment("body", "c", (17,)), Segment("alt", "a > b", (10, 11, 12, 13, 14))]


# --- render: properties -------------------------------------------------------------------------

SYNTAX = [
    "<",
    ">",
    "&",
    "<!--",
    "-->",
    "<b>",
    "</b>",
    "<p>",
    "</",
    "<!",
    "?",
    "&#x",
    "&#",
    ";",
    '"',
    "'",
    "=",
    " ",
    "\n",
]
PIECES = ["<img alt=", "title=", "<script>", "</script>", "<template>", "<textarea>", "&amp", "auml;", "onclick="]
FRAGMENTS = st.lists(
    st.sampled_from(SYNTAX + PIECES) | st.text(alphabet="abAB1 -/", max_size=3),
    max_size=25,
).map("".join)


@given(st.text() | FRAGMENTS)
def test_render_never_raises_and_every_origin_points_home(markup):
    segments = render(markup)
    assert segments[0].source == "body"
    assert {segment.source for segment in segments[1:]} <= {"alt", "title", "aria-label"}
    assert_origins_point_home(markup, segments)


@given(st.text() | FRAGMENTS)
def test_body_origin_never_goes_back(markup):
    origin = render(markup)[0].origin
    assert list(origin) == sorted(origin)


@given(st.text().filter(lambda text: "<" not in text and "&" not in text))
def test_plain_text_is_its_own_rendering(text):
    assert render(text) == [Segment("body", text, tuple(range(len(text))))]


@given(st.text(alphabet=st.sampled_from("&#;xX0123456789abcdefABCDEF ampltgnotuml\n")))
def test_tagless_text_renders_like_html_unescape(text):
    assert body(text) == html.unescape(text)


_RAW_OPENER = re.compile(r"<(?:textarea|xmp|plaintext|title|script|style|iframe|noembed|noframes)", re.IGNORECASE)


@given(FRAGMENTS)
def test_inline_tags_never_add_characters(markup):
    assume(not _RAW_OPENER.search(markup))  # inside raw text a tag is shown as written
    assert body(markup.replace("<p>", "<span>")) == body(markup.replace("<p>", "<b>"))


# --- active_content -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<script>alert(1)</script>", ["script"]),
        ('<script src="https://cdn.example/x.js"></script>', ["script"]),
        ("<ScRiPt\n>x</script>", ["script"]),
        ("<p>Text</p><script", ["script"]),  # cut off by the end: still counts
        ('<iframe src="https://x"></iframe>', ["iframe"]),
        ("<frameset><frame src=x></frameset>", ["iframe", "iframe"]),
        ("<object data=x.swf></object>", ["object"]),
        ("<applet code=x>", ["object"]),
        ("<embed src=x.swf>", ["embed"]),
        ('<form action="/send"><input name=q><select></select><button>Go</button></form>', ["form"] * 4),
        ("<textarea>x</textarea>", ["form"]),
        ("<img src=x onerror=alert(1)>", ["event_handler"]),
        ('<a href="#" onClick="go()">x</a>', ["event_handler"]),
        ("<body onload=x>", ["event_handler"]),
        ("<div\nonmouseover\n=\n'x'>", ["event_handler"]),
        ("<svg/onload=alert(1)>", ["event_handler"]),
        ('<svg><g onclick="x"></g></svg>', ["event_handler"]),
        ('<img src="x"onerror="y">', ["event_handler"]),
        ('<a href="javascript:alert(1)">x</a>', ["javascript_url"]),
        ('<a href="jav&#x61;script:alert(1)">', ["javascript_url"]),
        ('<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;x">', ["javascript_url"]),
        ('<a href=" java\tscript:x">', ["javascript_url"]),
        ('<a href="java&Tab;script&colon;x">', ["javascript_url"]),
        ('<a href="\x01javascript:x">', ["javascript_url"]),
        ('<a href="JaVaScRiPt:x">', ["javascript_url"]),
        ("<a href=vbscript:x>", ["javascript_url"]),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">', ["javascript_url"]),
        ('<img src="javascript:x">', ["javascript_url"]),
        ('<svg><a xlink:href="javascript:x"><text>t</text></a></svg>', ["javascript_url"]),
        ('<video poster="javascript:x">', ["javascript_url"]),
        ('<table background="javascript:x">', ["javascript_url"]),
        ('<button formaction="javascript:x">', ["form", "javascript_url"]),
        ('<meta http-equiv="refresh" content="0;url=https://x">', ["meta_refresh"]),
        ("<META HTTP-EQUIV=Refresh CONTENT=0>", ["meta_refresh"]),
        ('<base href="https://elsewhere/">', ["base"]),
        ('<div style="width: expression(alert(1))">', ["style_expression"]),
        ('<div style="width: ex/**/pression(alert(1))">', ["style_expression"]),
        ('<div style="width: \\65xpression(alert(1))">', ["style_expression"]),
        ('<div style="background:url(&quot;javascript:x&quot;)">', ["style_expression"]),
        ("<style>p { background: url(javascript:x) }</style>", ["style_expression"]),
        ('<svg><set attributeName="onclick" to="alert(1)"/></svg>', ["event_handler"]),
        ('<svg><animate attributeName="href" values="x;javascript:alert(1)"/></svg>', ["javascript_url"]),
    ],
)
def test_active_content_is_found(markup, expected):
    assert kinds(markup) == expected


@pytest.mark.parametrize(
    "markup",
    [
        '<a href="https://alpine-outfitters.de/x">Wanderschuhe</a>',
        '<img src="/a.jpg" alt="Wanderschuh" width="300">',
        '<img src="data:image/svg+xml,%3Csvg%20xmlns=%22http://www.w3.org/2000/svg%22%3E%3C/svg%3E" alt="">',
        "<p>Absatz</p><h2>Titel</h2><ul><li>a</li></ul><ol><li>b</li></ol>",
        "<table><thead><tr><th>x</th></tr></thead><tbody><tr><td>y</td></tr></tbody></table>",
        "<!-- wp:paragraph --><p>Text</p><!-- /wp:paragraph -->",
        '<!-- wp:image {"id":12} --><figure class="wp-block-image"><img src="/b.jpg"/></figure><!-- /wp:image -->',
        "<p>Das Attribut onclick und die Funktion expression( sind hier nur Prosa.</p>",
        '<p><a href="https://x.de/js">javascript: ein Einstieg</a></p>',
        '<div style="color: red; scroll-behavior: smooth">x</div>',
        "<style>p { color: red }</style>",
        '<a href="/onclick" title="javascript:">x</a>',
        '<a href="mailto:info@x.de">Mail</a><a href="tel:+49301234567">Tel</a>',
        '<p data-on="x" class="onclick">z</p>',
        "3 < 5 and 7 > 6, a<-b",
    ],
)
def test_ordinary_content_is_not_active(markup):
    assert active_content(markup) == []


def test_markup_inside_an_attribute_value_counts_too():
    # With scripting on, a browser ends the noscript at "</noscript>" inside the title and runs the img.
    markup = '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>'
    assert active_content(markup) == [ActiveContent("event_handler", 42, 58, "onerror=alert(1)")]


def test_markup_inside_comments_counts_too():
    assert kinds("<!--[if IE]><script>x</script><![endif]-->") == ["script"]


def test_a_finding_spans_its_attribute_or_its_tag():
    markup = '<p>x</p><img src=x onerror="alert(1)"><iframe src=y></iframe>'
    handler, frame = active_content(markup)
    assert (handler.kind, markup[handler.start : handler.end]) == ("event_handler", 'onerror="alert(1)"')
    assert (frame.kind, markup[frame.start : frame.end]) == ("iframe", "<iframe src=y>")


def test_a_script_spans_its_whole_element():
    markup = "<p>x</p><script>alert(1)</script><p>y</p>"
    (script,) = active_content(markup)
    assert markup[script.start : script.end] == "<script>alert(1)</script>"
    assert script.text == "<script>alert(1)</script>"


def test_findings_come_in_markup_order_and_quote_at_most_80_characters():
    markup = '<a href="javascript:' + "x" * 200 + '">a</a><img onerror=y><script>z</script>'
    findings = active_content(markup)
    assert [finding.kind for finding in findings] == ["javascript_url", "event_handler", "script"]
    assert [finding.start for finding in findings] == sorted(finding.start for finding in findings)
    assert len(findings[0].text) == 80
    assert findings[0].text == markup[findings[0].start : findings[0].start + 80]


@given(st.text() | FRAGMENTS)
def test_active_content_never_raises_and_quotes_the_markup(markup):
    for finding in active_content(markup):
        assert 0 <= finding.start < finding.end <= len(markup)
        assert finding.text == markup[finding.start : finding.end][:80]


def test_deeply_nested_markup_stays_fast():
    markup = "<p title=\"<a title='<b onclick=x>'>\">" * 500 + "<a<a<a" * 5_000 + "<!--" * 5_000
    assert kinds(markup) == ["event_handler"] * 500
    render(markup)
