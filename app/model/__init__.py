"""The app's model, without Qt: the evented base, the AppModel the widgets are views of, the
analysis-mode registry, and the plain data that goes to and comes back from the workers."""
from .app_model import AppModel
from .evented import EventedModel, Signal

__all__ = ["AppModel", "EventedModel", "Signal"]
