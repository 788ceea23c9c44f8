"""The pictures hold everything they draw: no caption, name or curve past the canvas.

Each SVG is read back as XML and every line of text measured where it stands (its x, anchor,
baseline, size and weight) with Helvetica's widths, the font the SVG asks for; the widths
themselves are checked against Adobe's Helvetica metrics (and against Liberation Sans, which has
the same, where it is installed).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from defusedxml import ElementTree
from PIL import Image, ImageChops
from rich.console import Console
from sfn_kit import SFN_ROLE, abalone, hermione_train, retail

from ds_stepfunctions.inputs import ExecutionInput
from ds_stepfunctions.steps import Catch, Chain, Choice, ChoiceRule, Fail, LambdaStep, Pass
from ds_stepfunctions.workflow import Workflow
from ds_stepfunctions.workflow.layout import ASCENT, DESCENT, text_width

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

SVG = "{http://www.w3.org/2000/svg}"
PICTURES = sorted((Path(__file__).parents[2] / "Docs" / "workflows").glob("*.svg"))
ERRORS = ["SageMaker.AmazonSageMakerException", "States.TaskFailed", "States.Timeout",
          "Lambda.ServiceException", "Lambda.TooManyRequestsException"]


def wide_labels() -> Workflow:
    """Captions wider than any box, on edges that leave on both sides and loop back."""
    check = LambdaStep("Check", parameters={"FunctionName": "check-the-metric-of-the-model"})
    gate = Choice("Good enough?")
    gate.add_choice(ChoiceRule.NumericLessThanEqualsPath(
        variable="$['Check']['Payload']['RootMeanSquaredErrorOnTheValidationChannel']",
        value="$['Check']['Payload']['ThresholdAgreedWithTheBusinessForThisModel']"),
        next_step=Pass("Ship it"))
    gate.add_choice(ChoiceRule.StringEquals(variable="$['Check']['Payload']['Verdict']",
                                            value="retry-with-more-data-from-the-archive"),
                    next_step=check)  # back to an earlier layer: a loop around the side
    gate.default_choice(Fail("Too weak", cause="the model is too weak for production"))
    first = LambdaStep("Prepare", parameters={"FunctionName": "prepare"})
    failed = Fail("Échec ✗")
    first.add_catch(Catch(error_equals=ERRORS, next_step=failed))
    check.add_catch(Catch(error_equals=ERRORS, next_step=failed))  # same layer or back
    return Workflow("wide", Chain([first, check, gate]), SFN_ROLE)


def text_boxes(svg: str) -> tuple[tuple[float, float], list[tuple[str, float, float, float,
                                                                    float]]]:
    """The canvas (from the viewBox) and each text element's box: (text, left, top, right,
    bottom), measured from the element's own attributes and those it inherits."""
    root = ElementTree.fromstring(svg)
    x0, y0, width, height = map(float, root.get("viewBox").split())
    assert (x0, y0) == (0, 0) and (float(root.get("width")), float(root.get("height"))) == (
        width, height)
    boxes = []

    def walk(element, inherited):
        attrs = {**inherited, **{k: v for k, v in element.attrib.items()
                                 if k in ("font-size", "font-weight", "text-anchor")}}
        if element.tag == f"{SVG}text":
            text = "".join(element.itertext())
            size = float(attrs["font-size"])
            advance = text_width(text, size, attrs.get("font-weight") == "bold")
            x, y = float(element.get("x")), float(element.get("y"))
            left = x - {"start": 0, "middle": advance / 2, "end": advance}[
                attrs.get("text-anchor", "start")]
            boxes.append((text, left, y - ASCENT * size, left + advance, y + DESCENT * size))
        for child in element:
            walk(child, attrs)

    walk(root, {"font-size": root.get("font-size", "16")})
    return (width, height), boxes


def curve_points(svg: str) -> list[tuple[float, float]]:
    """Points along every edge (each path's cubic Bézier, sampled)."""
    root = ElementTree.fromstring(svg)
    points = []
    for path in root.iter(f"{SVG}path"):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d"))]
        if len(numbers) != 8 or path.get("marker-end") is None:
            continue  # the arrowhead's own shape, in its marker's box
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = zip(numbers[::2], numbers[1::2], strict=True)
        for i in range(33):
            t = i / 32
            u = 1 - t
            points.append((u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
                           u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3))
    return points


def assert_fits(svg: str, name: str) -> None:
    (width, height), boxes = text_boxes(svg)
    assert boxes, name
    for text, left, top, right, bottom in boxes:
        where = f"{name}: {text!r} spans ({left:.1f}, {top:.1f})..({right:.1f}, {bottom:.1f})"
        assert left >= 0 and right <= width, f"{where}; the canvas is {width:.0f} wide"
        assert top >= 0 and bottom <= height, f"{where}; the canvas is {height:.0f} high"
    for x, y in curve_points(svg):
        assert 0 <= x <= width and 0 <= y <= height, f"{name}: a curve reaches ({x:.0f}, {y:.0f})"


def overlapping_texts(svg: str) -> list[tuple[str, str]]:
    """Pairs of lines of text that cover each other (a caption over a caption or a name)."""
    _, boxes = text_boxes(svg)
    return [(a[0], b[0]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]]


@pytest.mark.parametrize("picture", PICTURES, ids=lambda p: p.stem)
def test_every_workflow_picture_holds_all_its_text_and_curves(picture):
    assert_fits(picture.read_text(encoding="utf-8"), picture.name)


def test_the_workflow_pictures_are_all_there():
    assert {p.stem for p in PICTURES} == {"titanic_train", "titanic_inference", "abalone",
                                          "retail", "experiments"}


@pytest.mark.parametrize("portrait", [True, False], ids=["portrait", "landscape"])
@pytest.mark.parametrize("build", [wide_labels, retail, abalone, hermione_train])
def test_wide_captions_widen_the_canvas_instead_of_being_clipped(build, portrait):
    svg = build().render_graph(portrait=portrait).to_svg()
    assert_fits(svg, build.__name__)
    assert overlapping_texts(svg) == []


def test_the_wide_label_graph_really_is_wider_than_its_boxes():
    """The synthetic graph tests what it should: its captions stick out past every box."""
    graph = wide_labels().render_graph(portrait=True)
    layout = graph.layout()
    boxes_right = max(n.x + n.w for n in layout.nodes.values())
    captions_right = max(r.caption.box()[2] for r in layout.routes if r.caption)
    assert captions_right > boxes_right + 100
    assert layout.width >= captions_right


@pytest.mark.parametrize("portrait", [True, False], ids=["portrait", "landscape"])
def test_png_leaves_its_margin_blank(portrait):
    """The PNG (Pillow's own font) draws nothing in the outer 8 px: nothing is cut off."""
    for build in (wide_labels, retail):
        image = Image.open(io.BytesIO(build().render_graph(portrait=portrait).to_png(scale=1)))
        width, height = image.size
        white = Image.new("RGB", image.size, "white")
        inner = (8, 8, width - 8, height - 8)
        drawn = ImageChops.difference(image.convert("RGB"), white)
        drawn.paste((0, 0, 0), inner)
        assert drawn.getbbox() is None, f"{build.__name__}: drawn at {drawn.getbbox()}"


# Adobe's Helvetica and Helvetica-Bold AFM widths (1/1000 em) of a few glyphs.
HELVETICA = {" ": 278, "$": 556, "'": 191, "<": 584, "=": 584, "A": 667, "W": 944, "[": 278,
             "i": 222, "m": 833, "@": 1015}
HELVETICA_BOLD = {" ": 278, "$": 556, "'": 238, "A": 722, "W": 944, "[": 333, "i": 278,
                  "m": 889, "@": 975}


def test_text_is_measured_with_helveticas_widths():
    for glyph, width in HELVETICA.items():
        assert text_width(glyph, 1000) == width
    for glyph, width in HELVETICA_BOLD.items():
        assert text_width(glyph, 1000, bold=True) == width
    assert text_width("Wi", 10) == pytest.approx(11.66)
    assert text_width("é✗", 10) == 20  # outside ASCII: a full em each, never too narrow


LIBERATION = Path("/usr/share/fonts/truetype/liberation2")


@pytest.mark.skipif(not LIBERATION.is_dir(), reason="Liberation Sans is not installed here")
def test_text_widths_match_a_helvetica_metric_font():
    from PIL import ImageFont

    printable = "".join(chr(c) for c in range(32, 127))
    for bold, name in ((False, "Regular"), (True, "Bold")):
        font = ImageFont.truetype(str(LIBERATION / f"LiberationSans-{name}.ttf"), 1000)
        for glyph in printable:
            assert text_width(glyph, 1000, bold) == pytest.approx(font.getlength(glyph), abs=1)


def rule_captions(rule) -> tuple[str, str, str]:
    """The rule's caption in the SVG, the Mermaid text and the terminal tree."""
    gate = Choice("Gate")
    gate.add_choice(rule, next_step=Pass("Yes"))
    gate.default_choice(Pass("No"))
    graph = Workflow("rule", gate, SFN_ROLE).render_graph()
    svg_captions = [t.text for t in ElementTree.fromstring(graph.to_svg()).findall(f"{SVG}text")]
    console = Console(record=True, width=200, color_system=None)
    console.print(graph)
    return svg_captions[0], graph.to_mermaid(), console.export_text()


def test_a_path_operand_is_shown_bare_and_a_string_literal_in_quotes():
    svg, mermaid, tree = rule_captions(ChoiceRule.NumericLessThanEqualsPath(
        variable="$['Check']['Value']", value="$['Check']['Threshold']"))
    assert svg == "$['Check']['Value'] <= $['Check']['Threshold']"
    assert "$[&#x27;Check&#x27;][&#x27;Value&#x27;] &lt;= $[&#x27;Check&#x27;][&#x27;Threshold" \
           "&#x27;]\"|" in mermaid
    assert "[$['Check']['Value'] <= $['Check']['Threshold']] Yes" in tree

    # A string that looks like a path is still a literal of StringEquals: quoted.
    svg, _, tree = rule_captions(ChoiceRule.StringEquals(variable="$.status", value="$.done"))
    assert svg == '$.status == "$.done"'
    assert '[$.status == "$.done"] Yes' in tree
    # A placeholder value makes the rule StringEqualsPath: the path, bare.
    expected = ExecutionInput()["Expected"]
    svg, _, _ = rule_captions(ChoiceRule.StringEquals(variable="$.status", value=expected))
    assert svg == "$.status == $$.Execution.Input['Expected']"
    assert rule_captions(ChoiceRule.BooleanEqualsPath(variable="$.a", value="$.b"))[0] == \
        "$.a == $.b"
    assert rule_captions(ChoiceRule.NumericGreaterThan(variable="$.n", value=2.5))[0] == \
        "$.n > 2.5"
    assert rule_captions(ChoiceRule.IsPresent(variable="$.n", value=True))[0] == \
        "$.n IsPresent true"
