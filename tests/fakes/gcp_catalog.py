"""The read-only catalog routes of the simulated Compute Engine (see :mod:`fakes.gcp_compute`).

A simulation: zones, regions, images and machine types as :class:`fakes.gcp_world.GcpWorld`
knows them, serialised with the SDK's own message classes. Each route cites its reference page.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from google.cloud import compute_v1

from fakes.base import Request, Response
from fakes.gcp_world import COMPUTE, IMAGES, not_found, wire

if TYPE_CHECKING:
    from fakes.gcp_compute import GcpComputeFake


class CatalogRoutes:
    """Mixed into :class:`fakes.gcp_compute.GcpComputeFake`."""

    def _zone(self: GcpComputeFake, project: str, zone: str) -> compute_v1.Zone:
        region = self.world.zones[zone]
        return compute_v1.Zone(name=zone, status="UP", kind="compute#zone", region=f"{COMPUTE}/projects/{project}/regions/{region}",
                               self_link=f"{COMPUTE}/projects/{project}/zones/{zone}")

    def zones_list(self: GcpComputeFake, req: Request, project: str) -> Response:
        """zones.list: https://cloud.google.com/compute/docs/reference/rest/v1/zones/list"""
        items = [self._zone(project, z) for z in sorted(self.world.zones)]
        return Response(200, wire(compute_v1.ZoneList(id=f"projects/{project}/zones", items=items)))

    def zone_get(self: GcpComputeFake, req: Request, project: str, zone: str) -> Response:
        """zones.get: https://cloud.google.com/compute/docs/reference/rest/v1/zones/get"""
        if zone not in self.world.zones:
            return not_found(f"projects/{project}/zones/{zone}")
        return Response(200, wire(self._zone(project, zone)))

    def _region(self: GcpComputeFake, project: str, region: str, zones: list[str]) -> compute_v1.Region:
        return compute_v1.Region(name=region, status="UP", kind="compute#region",
                                 zones=[f"{COMPUTE}/projects/{project}/zones/{z}" for z in zones],
                                 self_link=f"{COMPUTE}/projects/{project}/regions/{region}")

    def regions_list(self: GcpComputeFake, req: Request, project: str) -> Response:
        """regions.list: https://cloud.google.com/compute/docs/reference/rest/v1/regions/list"""
        items = [self._region(project, r, zs) for r, zs in sorted(self.world.regions().items())]
        return Response(200, wire(compute_v1.RegionList(id=f"projects/{project}/regions", items=items)))

    def region_get(self: GcpComputeFake, req: Request, project: str, region: str) -> Response:
        """regions.get: https://cloud.google.com/compute/docs/reference/rest/v1/regions/get"""
        zones = self.world.regions().get(region)
        if zones is None:
            return not_found(f"projects/{project}/regions/{region}")
        return Response(200, wire(self._region(project, region, zones)))

    def image_from_family(self: GcpComputeFake, req: Request, project: str, family: str) -> Response:
        """images.getFromFamily: https://cloud.google.com/compute/docs/reference/rest/v1/images/getFromFamily"""
        image = find_image(f"projects/{project}/global/images/family/{family}")
        return Response(200, wire(image)) if image else not_found(f"projects/{project}/global/images/family/{family}")

    def image_get(self: GcpComputeFake, req: Request, project: str, image: str) -> Response:
        """images.get: https://cloud.google.com/compute/docs/reference/rest/v1/images/get"""
        found = find_image(f"projects/{project}/global/images/{image}")
        return Response(200, wire(found)) if found else not_found(f"projects/{project}/global/images/{image}")

    def machine_type_get(self: GcpComputeFake, req: Request, project: str, zone: str, mt: str) -> Response:
        """machineTypes.get: https://cloud.google.com/compute/docs/reference/rest/v1/machineTypes/get"""
        found = self.world.machine_types.get(zone, {}).get(mt)
        if found is None:
            return not_found(f"projects/{project}/zones/{zone}/machineTypes/{mt}")
        accels = [compute_v1.Accelerators(guest_accelerator_type=found.accelerator, guest_accelerator_count=found.accelerator_count)] if found.accelerator else []
        return Response(200, wire(compute_v1.MachineType(
            name=mt, kind="compute#machineType", zone=zone, guest_cpus=found.vcpus, memory_mb=found.memory_mb,
            accelerators=accels, self_link=f"{COMPUTE}/projects/{project}/zones/{zone}/machineTypes/{mt}")))


def find_image(source: str) -> compute_v1.Image | None:
    """Resolve ``projects/P/global/images/family/F`` or ``.../images/NAME`` (URL or path)."""
    path = source.split("/compute/v1/")[-1]
    found = re.match(r"projects/([^/]+)/global/images/(family/)?([^/]+)$", path)
    if not found:
        return None
    project, is_family, name = found.groups()
    for (img_project, family), image in IMAGES.items():
        if img_project == project and name == (family if is_family else image):
            return compute_v1.Image(name=image, family=family, status="READY", kind="compute#image", disk_size_gb=10,
                                    self_link=f"{COMPUTE}/projects/{project}/global/images/{image}")
    return None

