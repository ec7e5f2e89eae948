"""GPU names, facts and MIG profiles shared by inventory, sizing and drivers."""
