"""Antialiased hard rendering with nvdiffrast's analytic edge antialiasing (renderer "aa")."""
