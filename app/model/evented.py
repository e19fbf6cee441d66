"""A tiny evented-model base in pure Python (no Qt), after napari's ``EventedModel``: every field
has a signal, ``model.events.<field>``, emitted with the new value when an assignment changes it.

    class Counter(EventedModel):
        count: int = 0

    c = Counter()
    c.events.count.connect(print)
    c.count = 1          # prints 1
    c.count = 1          # no change: nothing emitted

Views subscribe to the fields they show and write back by assigning (or through the model's
methods); the model never knows who listens. Slots run synchronously, in the assigning thread:
the app assigns on the GUI thread only.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar


class Signal:
    """A list of callables called in connection order by ``emit``."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._slots: list[Callable[..., Any]] = []

    def connect(self, slot: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``slot(*args)`` on every ``emit``; returns ``slot`` (usable as a decorator)."""
        if slot not in self._slots:
            self._slots.append(slot)
        return slot

    def disconnect(self, slot: Callable[..., Any]) -> None:
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, *args: Any) -> None:
        for slot in list(self._slots):       # a slot may connect or disconnect others
            slot(*args)

    def __len__(self) -> int:
        return len(self._slots)


class Events:
    """The signals of one model instance, one attribute per name."""

    def __init__(self, names: tuple[str, ...]) -> None:
        for name in names:
            setattr(self, name, Signal(name))

    def __getattr__(self, name: str) -> Signal:       # only reached for names that do not exist
        raise AttributeError(f"no event named {name!r}")


def values_equal(a: Any, b: Any) -> bool:
    """Whether an assignment of ``b`` over ``a`` changes nothing. Values whose ``==`` is not a
    plain truth value (arrays, tensors) count as changed unless they are the same object."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an ambiguous comparison means: treat it as a change
        return False


class EventedModel:
    """Base of evented models. Fields are the class's annotated, public attributes; their class
    values are the defaults (use immutable values). ``IDENTITY_FIELDS`` compare by identity, not
    by value (a Scene: every edit is a new object). ``EXTRA_EVENTS`` names signals that are not
    fields (e.g. messages). Subclasses may define ``_validate_<field>(value) -> value`` to check
    or normalise an assignment; it raises ValueError to refuse it."""

    IDENTITY_FIELDS: ClassVar[tuple[str, ...]] = ()
    EXTRA_EVENTS: ClassVar[tuple[str, ...]] = ()
    _field_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for name, kind in vars(klass).get("__annotations__", {}).items():
                if not name.startswith("_") and "ClassVar" not in str(kind) and name not in names:
                    names.append(name)
        cls._field_names = tuple(names)

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(self._field_names)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        object.__setattr__(self, "events", Events(self._field_names + self.EXTRA_EVENTS))
        for name in self._field_names:
            if name in values:
                value = values[name]
            elif hasattr(type(self), name):
                value = getattr(type(self), name)
            else:
                raise TypeError(f"{type(self).__name__} needs a value for {name!r}")
            object.__setattr__(self, name, self._checked(name, value))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return cls._field_names

    def _checked(self, name: str, value: Any) -> Any:
        validate = getattr(self, f"_validate_{name}", None)
        return validate(value) if validate is not None else value

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._field_names:
            object.__setattr__(self, name, value)
            return
        value = self._checked(name, value)
        old = self.__dict__.get(name)
        same = old is value if name in self.IDENTITY_FIELDS else values_equal(old, value)
        object.__setattr__(self, name, value)
        if not same:
            getattr(self.events, name).emit(value)

    def refresh(self, name: str) -> None:
        """Emit ``events.<name>`` with the current value, unchanged (views re-show it, e.g. after
        a refused edit left a widget showing a value that is not in use)."""
        getattr(self.events, name).emit(getattr(self, name))

    def update(self, **values: Any) -> None:
        """Assign several fields; each emits if it changed (in the order given)."""
        for name, value in values.items():
            if name not in self._field_names:
                raise AttributeError(f"{type(self).__name__} has no field {name!r}")
            setattr(self, name, value)
