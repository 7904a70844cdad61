"""The gallery's additions to the dark theme, scoped to its own object names."""

from studio.ui.theme import ACCENT, DIM

GALLERY_STYLE = f"""
#GalleryPanel, #GalleryGridPage, #GalleryViewer {{ background: #111215; }}
#GalleryGrid {{ background: #111215; border: none; }}
QLabel#GalleryCount {{ color: {DIM}; background: transparent; padding: 0 2px; }}
QLabel#GalleryEmpty {{ color: {DIM}; background: #111215; font-size: 14px; }}
QLineEdit#GallerySearch {{ padding: 6px 10px; border-radius: 8px; }}
QToolButton#FavoritesFilter {{ padding: 5px 10px; }}
#ViewerSide, #ViewerSideScroll {{ background: #1c1d22; border: none; }}
#ViewerSide QLabel {{ background: transparent; }}
QLabel#MetaPrompt {{ color: #f2f3f5; font-size: 14px; }}
QLabel#MetaNotes {{ color: #f0a35e; }}
QLabel#ViewerTitle {{ color: {DIM}; background: transparent; }}
QLabel#ViewerStatus {{ color: #f0a35e; background: transparent; }}
QToolButton#BackButton {{ padding: 5px 12px; }}
QToolButton#StepButton {{ padding: 3px 10px; font-size: 16px; }}
QPushButton#ReuseAllButton {{
    background: #6d5fe0; border: 1px solid {ACCENT}; color: #ffffff; font-weight: 600;
}}
QPushButton#ReuseAllButton:hover {{ background: {ACCENT}; }}
QPushButton#ReuseAllButton:disabled {{
    background: #2a2c33; border-color: #33363f; color: #5d626d;
}}
QToolButton#DeleteButton {{ padding: 5px 10px; }}
QToolButton#DeleteButton:hover {{ background: #4a2a30; border-color: #7a3a44; }}
"""
