<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 404 unknown_workflow: no such workflow, or no kept bundle carries the asked version. */
class UnknownWorkflowException extends OrbitException
{
}
