"""The main window and what belongs to it alone: menus, file actions, export, persistence, the
live render requests, start-up."""
