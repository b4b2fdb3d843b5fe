"""The detection models, pure model code with no worker wiring: motion, people and objects
(NanoDet-g, SSDLite, a user's ONNX), faces (YuNet) and their recognition, the runtimes they run on,
and the converters that make their files. The analyzer's workers and the gateway (face enrolment)
both use them."""
