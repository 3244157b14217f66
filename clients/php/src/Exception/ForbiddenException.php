<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 403 forbidden: a Host or a browser origin the sidecar does not answer. */
class ForbiddenException extends OrbitException
{
}
