<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 404 not_found: no such instance (or endpoint). */
class NotFoundException extends OrbitException
{
}
