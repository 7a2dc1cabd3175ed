"""Drawing: header bit diagrams, hexdumps, encapsulation, and the rich display of headers and packets.

Figures are matplotlib ``Figure`` objects (imported only when a figure is asked for); the SVG and
HTML that Jupyter shows for a header or a packet are written by hand and need no matplotlib.
"""
from netstudy.show.colors import field_color, layer_color
from netstudy.show.diagram import header_diagram, layers_diagram
from netstudy.show.hexdump import byte_map, hexdump, hexdump_text
from netstudy.show.html import header_svg, to_html
from netstudy.show.tables import checksum_figure, checksum_steps, describe

__all__ = ["header_diagram", "layers_diagram", "hexdump", "hexdump_text", "byte_map", "to_html", "header_svg",
           "describe", "checksum_steps", "checksum_figure", "field_color", "layer_color"]
