"""The kiosk's display driver: an SSD1306 128x64 OLED on I2C, as a framebuf.FrameBuffer.

Flashed with the firmware (MANIFEST), so a kiosk with a display never lacks its driver. Only
what the kiosk uses: text into the frame buffer, then show(). Commands from the SSD1306
datasheet (Solomon Systech, section 9 "Command table" and the charge-pump application note):
display off, horizontal addressing, segment and COM remap for the usual module orientation,
multiplex ratio, COM pins, clock, pre-charge, VCOMH, contrast, charge pump on, display on.
"""
import framebuf

ADDR = 0x3C


class SSD1306_I2C(framebuf.FrameBuffer):
    def __init__(self, width, height, i2c, addr=ADDR):
        self.width = width
        self.height = height
        self.i2c = i2c
        self.addr = addr
        self.pages = height // 8
        self.buffer = bytearray(self.pages * width + 1)
        self.buffer[0] = 0x40                      # the data prefix, sent with the pixels
        self.pixels = memoryview(self.buffer)[1:]
        super().__init__(self.pixels, width, height, framebuf.MONO_VLSB)
        self.cmd_buf = bytearray(2)
        self.cmd_buf[0] = 0x80                     # one command byte follows
        for c in (0xAE, 0x20, 0x00, 0x40, 0xA1, 0xA8, height - 1, 0xC8, 0xD3, 0x00,
                  0xDA, 0x12 if height == 64 else 0x02, 0xD5, 0x80, 0xD9, 0xF1, 0xDB, 0x30,
                  0x81, 0xCF, 0xA4, 0xA6, 0x8D, 0x14, 0xAF):
            self.cmd(c)
        self.fill(0)
        self.show()

    def cmd(self, c):
        self.cmd_buf[1] = c
        self.i2c.writeto(self.addr, self.cmd_buf)

    def show(self):
        for c in (0x21, 0, self.width - 1, 0x22, 0, self.pages - 1):  # the whole screen
            self.cmd(c)
        self.i2c.writeto(self.addr, self.buffer)
