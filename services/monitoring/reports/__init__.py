"""The assessment and the map as pictures and a workbook: pure functions of the reports, no HTTP, no database.

charts.target_chart_svg / charts.sector_progress_svg, tilemap.tile_map_svg (SVG, glyphs as outlines, drawn with
the CJK font of fonts.cjk_font) and workbook.assessment_workbook (XLSX). The same report gives the same bytes.
"""
