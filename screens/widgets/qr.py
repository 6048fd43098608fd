"""A QR image widget: `QRImage(data="https://…")` draws the code crisp at any size (nearest
filtering), black on white whatever the theme, so phones read it from afar."""
from io import BytesIO

from kivy.core.image import Image as CoreImage
from kivy.properties import StringProperty
from kivy.uix.image import Image

from app.qr import qr_png


class QRImage(Image):
    data = StringProperty("")

    def __init__(self, **kwargs):
        kwargs.setdefault("fit_mode", "contain")
        super().__init__(**kwargs)
        self.bind(data=self._render)
        self._render()

    def _render(self, *_args):
        if not self.data:
            self.texture = None
            self.opacity = 0
            return
        image = CoreImage(BytesIO(qr_png(self.data, box_size=4)), ext="png")
        texture = image.texture
        texture.mag_filter = "nearest"
        texture.min_filter = "nearest"
        self.texture = texture
        self.opacity = 1
