"""Face recognition core: detect, assess quality, describe, match.

dlib is imported only when a detector or embedder is built, so importing this
package is cheap and works on machines without dlib (the server's CLI help, tests).
"""

from edge.recognize.config import MatchingConfig, QualityConfig, RecognitionConfig
from edge.recognize.matcher import Gallery, Match, Matcher
from edge.recognize.quality import Quality, QualityIssue
from edge.recognize.types import DESCRIPTOR_DIM, Box, Detection

__all__ = [
    "DESCRIPTOR_DIM",
    "Box",
    "Detection",
    "Gallery",
    "Match",
    "Matcher",
    "MatchingConfig",
    "Quality",
    "QualityConfig",
    "QualityIssue",
    "RecognitionConfig",
]
